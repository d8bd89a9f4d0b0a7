"""The dispatcher's cursor: events written while Postroom is down are delivered after it restarts."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select
from tests.integration.automation.conftest import wait_until_jobs_settle
from tests.integration.automation.receiver import Receiver

from postroom.app import Postroom
from postroom.automation.webhooks import WEBHOOK_JOB, WebhookDispatcher
from postroom.config import Settings
from postroom.core import events
from postroom.core.events import NewEvent
from postroom.core.horizon import CommitHorizon
from postroom.core.models import Event, Job
from postroom.store.engine import create_engine


async def append(postroom: Postroom, *types: str) -> None:
    async with postroom.engine.begin() as conn:
        await events.append(conn, [NewEvent(postroom.default_tenant_id, t, None, {}) for t in types])
    await postroom.hub.published()


async def test_events_written_while_down_arrive_after_a_restart(settings: Settings, receiver: Receiver) -> None:
    settings = settings.model_copy(update={"webhook_allow_private": True})
    first = Postroom(settings)
    await first.start(smtp=False)
    await first.webhooks.create(first.default_tenant_id, receiver.url)
    await append(first, "email.sent")
    await receiver.wait_for(1)
    await wait_until_jobs_settle(first)
    await first.stop()

    # Postroom is down; other processes keep writing events.
    engine = create_engine(settings.resolved_database_url)
    async with engine.begin() as conn:
        await events.append(conn, [NewEvent(first.default_tenant_id, f"email.{t}", None, {}) for t in ("a", "b", "c")])
    await engine.dispose()

    second = Postroom(settings)
    await second.start(smtp=False)
    try:
        await append(second, "email.d")
        received = await receiver.wait_for(5)
        await wait_until_jobs_settle(second)
    finally:
        await second.stop()
    # Deliveries run concurrently, so they may arrive in any order (as with other webhook senders).
    assert sorted(r.json()["type"] for r in received) == ["email.a", "email.b", "email.c", "email.d", "email.sent"]
    assert len(receiver.requests) == 5
    assert Counter(r.headers["webhook-id"] for r in receiver.requests).most_common(1)[0][1] == 1


async def test_dispatchers_in_parallel_queue_each_event_once(settings: Settings, receiver: Receiver) -> None:
    settings = settings.model_copy(update={"webhook_allow_private": True})
    postroom = Postroom(settings)
    await postroom.start(smtp=False, workers=False)
    try:
        tenant = postroom.default_tenant_id
        for _ in range(2):
            await postroom.webhooks.create(tenant, receiver.url)
        await append(postroom, *(f"email.e{i}" for i in range(120)))
        others = [create_engine(settings.resolved_database_url) for _ in range(3)]
        dispatchers = [WebhookDispatcher(e, postroom.hub, max_attempts=3, batch_size=25) for e in others]
        queued = await asyncio.gather(*(d.run_once() for d in dispatchers))
        for engine in others:
            await engine.dispose()
        async with postroom.engine.connect() as conn:
            jobs = await conn.scalar(select(func.count()).select_from(Job).where(Job.kind == WEBHOOK_JOB))
            cursors = [e["event_cursor"] for e in await postroom.webhooks.list_endpoints(tenant)]
            newest = await events.last_id(conn, tenant)
    finally:
        await postroom.stop()
    assert jobs == 240  # every (endpoint, event) once, however the work was shared
    assert sum(queued) >= 240
    assert cursors == [newest, newest]


async def queued_event_ids(postroom: Postroom) -> list[int]:
    async with postroom.engine.connect() as conn:
        payloads = await conn.scalars(select(Job.payload).where(Job.kind == WEBHOOK_JOB).order_by(Job.id))
        return sorted(p["event_id"] for p in payloads)


# Only PostgreSQL lets two transactions write events at once; SQLite commits them in id order.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_an_event_that_commits_after_a_newer_one_is_not_skipped(settings: Settings, receiver: Receiver) -> None:
    postroom = Postroom(settings.model_copy(update={"webhook_allow_private": True}))
    await postroom.start(smtp=False, workers=False)
    try:
        tenant = postroom.default_tenant_id
        await postroom.webhooks.create(tenant, receiver.url)
        dispatcher = WebhookDispatcher(postroom.engine, postroom.hub, max_attempts=3)
        async with postroom.engine.connect() as slow:
            transaction = await slow.begin()
            await events.append(slow, [NewEvent(tenant, "email.slow", None, {})])  # takes the lower id
            await append(postroom, "email.fast")
            assert await dispatcher.run_once() == 0  # the newer event waits behind the open one
            await transaction.commit()
        assert await dispatcher.run_once() == 2
        async with postroom.engine.connect() as conn:
            ids = list(await conn.scalars(select(Event.id).order_by(Event.id)))

        # A transaction that rolls back leaves a gap for ever; after the timeout it is passed over.
        patient = WebhookDispatcher(postroom.engine, postroom.hub, max_attempts=3, horizon=CommitHorizon(gap_timeout=0))
        async with postroom.engine.connect() as aborted:
            transaction = await aborted.begin()
            await events.append(aborted, [NewEvent(tenant, "email.never", None, {})])
            await transaction.rollback()
        await append(postroom, "email.after")
        assert await patient.run_once() == 1
        async with postroom.engine.connect() as conn:
            ids.append(int(await conn.scalar(select(func.max(Event.id))) or 0))
        assert await queued_event_ids(postroom) == ids
    finally:
        await postroom.stop()
