"""Runs queued jobs: claims rows, calls the handler for their kind, records the outcome.

A handler is ``async def handler(job) -> dict | None``. Raising ``PermanentJobError``
dead-letters the job at once; any other exception is retried with backoff until the
job's attempts are spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.core import jobs, metrics
from postroom.core.jobs import Backoff, ClaimedJob
from postroom.core.models import JobStatus
from postroom.core.waits import wait_set

log = structlog.get_logger(__name__)

JobHandler = Callable[[ClaimedJob], Awaitable[dict[str, Any] | None]]


class PermanentJobError(Exception):
    """The job can never succeed (bad input, a 5xx answer): no retry."""


class JobWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        handlers: dict[str, JobHandler],
        *,
        concurrency: int = 8,
        lease_seconds: float = 60,
        poll_seconds: float = 0.5,
        backoff: Backoff | None = None,
    ) -> None:
        self.engine = engine
        self.handlers = handlers
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.backoff = backoff or Backoff()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Someone enqueued a job: look now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name=f"job-worker-{self.worker_id}")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish what is running within the grace period, hand back the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop_task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=grace_seconds)
        unfinished = list(self._running)
        for task in self._running.values():
            task.cancel()
        if unfinished:
            async with self.engine.begin() as conn:
                await jobs.release(conn, unfinished, self.worker_id)

    async def run_once(self) -> int:
        """Claim and run one round of jobs; returns how many ran (used by tests and the CLI)."""
        claimed = await self._claim(self.concurrency)
        await asyncio.gather(*(self._execute(job) for job in claimed))
        return len(claimed)

    async def _run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._running)
            claimed: list[ClaimedJob] = []
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception as exc:
                    log.warning("job_claim_failed", error=str(exc))
            for job in claimed:
                task = asyncio.create_task(self._execute(job))
                self._running[job.id] = task
                task.add_done_callback(functools.partial(self._finished, job.id))
            if not claimed or free <= 0:
                self._wake.clear()
                await wait_set(self._wake, self.poll_seconds)

    def _finished(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        async with self.engine.begin() as conn:
            return await jobs.claim(
                conn, self.worker_id, list(self.handlers), limit=limit, lease_seconds=self.lease_seconds
            )

    async def _execute(self, job: ClaimedJob) -> None:
        handler = self.handlers[job.kind]
        try:
            result = await handler(job)
        except asyncio.CancelledError:
            raise
        except PermanentJobError as exc:
            await self._fail(job, str(exc), retry=False)
        except Exception as exc:
            await self._fail(job, f"{type(exc).__name__}: {exc}", retry=True)
        else:
            async with self.engine.begin() as conn:
                await jobs.complete(conn, job, self.worker_id, result)
            metrics.JOBS_FINISHED.labels(kind=job.kind, outcome="done").inc()
            log.info("job_done", job_id=job.id, kind=job.kind, attempt=job.attempts)

    async def _fail(self, job: ClaimedJob, error: str, *, retry: bool) -> None:
        async with self.engine.begin() as conn:
            status = await jobs.fail(conn, job, self.worker_id, error, self.backoff, retry=retry)
        metrics.JOBS_FINISHED.labels(kind=job.kind, outcome="dead" if status == JobStatus.DEAD else "retry").inc()
        log.warning("job_failed", job_id=job.id, kind=job.kind, attempt=job.attempts, status=status, error=error)
