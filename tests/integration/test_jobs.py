"""The job queue on both engines: claims, leases, retries with backoff, dead letters, requeue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.auth.service import AuthService
from postroom.config import Settings
from postroom.core import jobs
from postroom.core.jobs import Backoff, ClaimedJob
from postroom.core.models import Job, JobStatus
from postroom.core.worker import JobWorker, PermanentJobError
from postroom.store.engine import create_engine
from postroom.store.types import utcnow


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url)
    await AuthService(engine, settings).ensure_default_tenant()
    yield engine
    await engine.dispose()


async def status_of(engine: AsyncEngine, job_id: int) -> tuple[str, int, str | None]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(Job.status, Job.attempts, Job.last_error).where(Job.id == job_id))).one()
    return row[0], row[1], row[2]


async def test_idempotency_key_returns_the_first_job(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await jobs.enqueue(conn, "k", {"n": 1}, idempotency_key="same")
        second = await jobs.enqueue(conn, "k", {"n": 2}, idempotency_key="same")
    assert first == second


async def test_concurrent_claims_never_share_a_job(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for i in range(60):
            await jobs.enqueue(conn, "k", {"n": i})

    async def claim_all(worker: str) -> list[int]:
        got: list[int] = []
        while True:
            try:
                async with engine.begin() as conn:
                    batch = await jobs.claim(conn, worker, ["k"], limit=5, lease_seconds=60)
            except Exception:  # SQLite: another writer held the lock past the timeout
                await asyncio.sleep(0.01)
                continue
            if not batch:
                return got
            got += [j.id for j in batch]

    results = await asyncio.gather(*(claim_all(f"w{i}") for i in range(4)))
    claimed = [job_id for result in results for job_id in result]
    assert len(claimed) == 60 and len(set(claimed)) == 60


async def test_an_expired_lease_lets_another_worker_take_over(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        job_id = await jobs.enqueue(conn, "k", {})
        [claimed] = await jobs.claim(conn, "dead-worker", ["k"], limit=1, lease_seconds=60)
        assert await jobs.claim(conn, "other", ["k"], limit=1, lease_seconds=60) == []
        # The first worker died: its lease runs out.
        await conn.execute(update(Job).where(Job.id == job_id).values(locked_until=utcnow() - timedelta(seconds=1)))
        [again] = await jobs.claim(conn, "other", ["k"], limit=1, lease_seconds=60)
    assert again.id == claimed.id and again.attempts == 2


async def test_failures_back_off_then_dead_letter_and_requeue(engine: AsyncEngine) -> None:
    calls: list[int] = []

    async def flaky(job: ClaimedJob) -> dict[str, int]:
        calls.append(job.attempts)
        raise RuntimeError(f"relay down (attempt {job.attempts})")

    worker = JobWorker(engine, {"flaky": flaky}, backoff=Backoff(base_seconds=0, jitter=0))
    before = {outcome: finished("flaky", outcome) for outcome in ("retry", "dead")}
    async with engine.begin() as conn:
        job_id = await jobs.enqueue(conn, "flaky", {}, max_attempts=3)
    for _ in range(3):
        assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert calls == [1, 2, 3]
    # /metrics counts two retries and one dead letter.
    assert finished("flaky", "retry") - before["retry"] == 2
    assert finished("flaky", "dead") - before["dead"] == 1
    assert await status_of(engine, job_id) == (JobStatus.DEAD, 3, "RuntimeError: relay down (attempt 3)")
    async with engine.begin() as conn:
        assert await jobs.requeue(conn, job_id, tenant_id=None)
    assert (await status_of(engine, job_id))[:2] == (JobStatus.QUEUED, 0)


def finished(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("postroom_jobs_finished_total", {"kind": kind, "outcome": outcome}) or 0.0


async def test_backoff_schedules_the_retry_later(engine: AsyncEngine) -> None:
    async def fails(job: ClaimedJob) -> None:
        raise RuntimeError("try later")

    worker = JobWorker(engine, {"k": fails}, backoff=Backoff(base_seconds=60, jitter=0))
    async with engine.begin() as conn:
        job_id = await jobs.enqueue(conn, "k", {})
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0  # not due for a minute
    async with engine.connect() as conn:
        run_at = await conn.scalar(select(Job.run_at).where(Job.id == job_id))
    assert run_at is not None and run_at > utcnow() + timedelta(seconds=50)


async def test_permanent_errors_dead_letter_at_once_and_success_records_the_result(engine: AsyncEngine) -> None:
    async def handler(job: ClaimedJob) -> dict[str, str]:
        if job.payload["ok"]:
            return {"delivered": "yes"}
        raise PermanentJobError("550 no such user")

    worker = JobWorker(engine, {"permanent": handler})
    done = finished("permanent", "done")
    async with engine.begin() as conn:
        bad = await jobs.enqueue(conn, "permanent", {"ok": False}, max_attempts=5)
        good = await jobs.enqueue(conn, "permanent", {"ok": True})
    assert await worker.run_once() == 2
    assert finished("permanent", "done") - done == 1
    assert await status_of(engine, bad) == (JobStatus.DEAD, 1, "550 no such user")
    async with engine.connect() as conn:
        assert await conn.scalar(select(Job.result).where(Job.id == good)) == {"delivered": "yes"}


async def test_stop_hands_back_unfinished_work(engine: AsyncEngine) -> None:
    started = asyncio.Event()

    async def slow(job: ClaimedJob) -> None:
        started.set()
        await asyncio.sleep(60)

    worker = JobWorker(engine, {"k": slow}, poll_seconds=0.05)
    async with engine.begin() as conn:
        job_id = await jobs.enqueue(conn, "k", {})
    await worker.start()
    await asyncio.wait_for(started.wait(), 5)
    await worker.stop(grace_seconds=0.2)
    assert (await status_of(engine, job_id))[:2] == (JobStatus.QUEUED, 0)
