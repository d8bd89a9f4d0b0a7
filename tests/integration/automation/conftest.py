"""Fixtures for outgoing webhooks: a receiving server and helpers around the delivery log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from tests.integration.automation.receiver import Receiver

from postroom.app import Postroom
from postroom.automation.webhooks import WEBHOOK_JOB
from postroom.core.jobs import Backoff
from postroom.core.models import Job


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def fast_retries(postroom: Postroom) -> None:
    """Retries within milliseconds instead of the production backoff, so a test sees them all."""
    postroom.worker.backoff = Backoff(base_seconds=0.05, factor=1.0, jitter=0.0)


async def webhook_jobs(postroom: Postroom) -> list[tuple[int, str, int]]:
    """(id, status, attempts) of every delivery job, oldest first."""
    async with postroom.engine.connect() as conn:
        rows = await conn.execute(
            select(Job.id, Job.status, Job.attempts).where(Job.kind == WEBHOOK_JOB).order_by(Job.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def wait_until_jobs_settle(postroom: Postroom, limit_seconds: float = 30) -> list[tuple[int, str, int]]:
    """Every delivery job is done or dead."""
    async with asyncio.timeout(limit_seconds):
        while True:
            found = await webhook_jobs(postroom)
            if found and all(status in ("done", "dead") for _, status, _ in found):
                return found
            await asyncio.sleep(0.05)
