"""The job queue: rows claimed with a lease, retried with backoff, dead-lettered at the end.

Any number of workers in any number of processes share the table. On PostgreSQL a
claim takes rows with ``FOR UPDATE SKIP LOCKED``; on SQLite the database's single
writer serialises claims. A worker that dies keeps its rows only until the lease
runs out; then another worker takes them (the attempt counts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.core.models import Job, JobStatus
from postroom.store.types import upsert_insert, utcnow


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 5.0
    factor: float = 2.0
    max_seconds: float = 3600.0
    jitter: float = 0.2  # +/- fraction of the delay, so retries of a burst spread out

    def delay(self, attempt: int) -> float:
        raw = min(self.base_seconds * self.factor ** max(attempt - 1, 0), self.max_seconds)
        return max(0.0, raw * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    tenant_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


async def enqueue(
    conn: AsyncConnection,
    kind: str,
    payload: dict[str, Any],
    *,
    tenant_id: int | None = None,
    priority: int = 0,
    run_at: datetime | None = None,
    max_attempts: int = 5,
    idempotency_key: str | None = None,
) -> int:
    """Insert a job (or return the existing one's id for a repeated idempotency key)."""
    now = utcnow()
    values = {
        "tenant_id": tenant_id,
        "kind": kind,
        "payload": payload,
        "status": JobStatus.QUEUED,
        "priority": priority,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": run_at or now,
        "idempotency_key": idempotency_key,
        "created_at": now,
        "updated_at": now,
    }
    statement = upsert_insert(conn.dialect.name, Job).values(values)
    if idempotency_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    job_id = await conn.scalar(statement.returning(Job.id))
    if job_id is None:
        job_id = await conn.scalar(select(Job.id).where(Job.idempotency_key == idempotency_key))
    assert job_id is not None
    return int(job_id)


async def claim(
    conn: AsyncConnection, worker_id: str, kinds: list[str], *, limit: int, lease_seconds: float
) -> list[ClaimedJob]:
    now = utcnow()
    claimable = or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_at <= now),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),  # lease ran out
    )
    candidates = (
        select(Job.id)
        .where(Job.kind.in_(kinds), claimable)
        .order_by(Job.priority.desc(), Job.run_at, Job.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    result = await conn.execute(
        update(Job)
        .where(Job.id.in_(candidates.scalar_subquery()))
        .values(
            status=JobStatus.RUNNING,
            locked_by=worker_id,
            locked_until=now + timedelta(seconds=lease_seconds),
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .returning(Job.id, Job.tenant_id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
    )
    jobs = [ClaimedJob(*row) for row in result]
    jobs.sort(key=lambda job: job.id)
    return jobs


async def complete(
    conn: AsyncConnection, job: ClaimedJob, worker_id: str, result: dict[str, Any] | None = None
) -> None:
    now = utcnow()
    await conn.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == worker_id)
        .values(
            status=JobStatus.DONE,
            result=result,
            locked_by=None,
            locked_until=None,
            finished_at=now,
            updated_at=now,
            last_error=None,
        )
    )


async def fail(
    conn: AsyncConnection,
    job: ClaimedJob,
    worker_id: str,
    error: str,
    backoff: Backoff,
    *,
    retry: bool = True,
) -> str:
    """Schedule the next attempt, or dead-letter the job; returns the new status."""
    now = utcnow()
    dead = not retry or job.attempts >= job.max_attempts
    values: dict[str, Any] = {
        "locked_by": None,
        "locked_until": None,
        "last_error": error[:4000],
        "updated_at": now,
    }
    if dead:
        values.update(status=JobStatus.DEAD, finished_at=now)
    else:
        values.update(status=JobStatus.QUEUED, run_at=now + timedelta(seconds=backoff.delay(job.attempts)))
    await conn.execute(update(Job).where(Job.id == job.id, Job.locked_by == worker_id).values(values))
    return JobStatus.DEAD if dead else JobStatus.QUEUED


async def release(conn: AsyncConnection, job_ids: list[int], worker_id: str) -> None:
    """Hand unfinished jobs back at shutdown without counting the attempt."""
    if not job_ids:
        return
    await conn.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.locked_by == worker_id, Job.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.QUEUED,
            locked_by=None,
            locked_until=None,
            attempts=Job.attempts - 1,
            run_at=utcnow(),
        )
    )


async def requeue(conn: AsyncConnection, job_id: int, tenant_id: int | None) -> bool:
    """Give a dead job a fresh set of attempts."""
    statement = update(Job).where(Job.id == job_id, Job.status == JobStatus.DEAD)
    if tenant_id is not None:
        statement = statement.where(Job.tenant_id == tenant_id)
    now = utcnow()
    result = await conn.execute(
        statement.values(status=JobStatus.QUEUED, attempts=0, run_at=now, updated_at=now, finished_at=None)
    )
    return bool(result.rowcount)


async def depth(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(count) for status, count in rows}
