"""Readers of the event log never pass an event that is still being committed."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.conftest import LiveServer

from postroom.auth.roles import Role
from postroom.core import events
from postroom.core.events import NewEvent


# Only PostgreSQL lets two transactions write events at once; SQLite commits them in id order.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_an_event_committed_after_a_newer_one_reaches_pollers_and_the_live_stream(live: LiveServer) -> None:
    postroom, tenant = live.postroom, live.postroom.default_tenant_id
    async with postroom.engine.connect() as conn:
        start = await events.last_id(conn, tenant)
    received: list[str] = []
    stream = postroom.hub.stream(tenant, start)

    async def listen() -> None:
        async for record in stream:
            received.append(record.type)
            if len(received) == 2:
                return

    listener = asyncio.create_task(listen())
    async with live.client(await live.api_key(Role.VIEWER)) as client, postroom.engine.connect() as slow:
        transaction = await slow.begin()
        await events.append(slow, [NewEvent(tenant, "test.slow", None, {})])  # takes the lower id
        async with postroom.engine.begin() as fast:
            await events.append(fast, [NewEvent(tenant, "test.fast", None, {})])
        await postroom.hub.published()
        polled = (await client.get("/api/v1/events", params={"after": start})).json()
        assert polled["items"] == [] and polled["next_after"] == start  # waits behind the open one
        await asyncio.sleep(0.3)
        assert received == []
        await transaction.commit()
        await postroom.hub.published()
        polled = (await client.get("/api/v1/events", params={"after": start})).json()
        assert [e["type"] for e in polled["items"]] == ["test.slow", "test.fast"]
    await asyncio.wait_for(listener, 10)
    assert received == ["test.slow", "test.fast"]
