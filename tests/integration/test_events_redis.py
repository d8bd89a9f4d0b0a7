"""Live events cross processes through Redis: one instance stores, another streams at once."""

from __future__ import annotations

import asyncio
import time

from postroom.app import Postroom
from postroom.config import Settings
from postroom.core.ingest import Incoming


async def test_an_event_written_by_one_instance_wakes_another_through_redis(settings: Settings, redis_url: str) -> None:
    # A long poll interval proves the wake-up came from Redis, not from polling.
    shared = settings.model_copy(update={"redis_url": redis_url})
    writer, reader = Postroom(shared), Postroom(shared)
    await writer.start(smtp=False, workers=False)
    await reader.start(smtp=False, workers=False)
    reader.hub.poll_seconds = 30
    try:
        stream = reader.hub.stream(reader.default_tenant_id).__aiter__()
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.3)  # the reader is now waiting
        started = time.monotonic()
        stored = await writer.ingestor.ingest(
            Incoming(raw=b"Subject: across\r\n\r\nhello\r\n", tenant_id=writer.default_tenant_id)
        )
        event = await asyncio.wait_for(first, 5)
        assert event.type == "message.received" and event.subject_id == stored.id
        assert time.monotonic() - started < 2
        await stream.aclose()  # type: ignore[attr-defined]
    finally:
        await reader.stop()
        await writer.stop()
