"""Pruning keeps each tenant's newest MAX_MESSAGES messages and cleans up what it drops."""

from __future__ import annotations

from sqlalchemy import select
from tests.integration.capture.capture_support import find, message

from postroom.app import Postroom
from postroom.capture.pruning import prune
from postroom.core.ingest import Incoming
from postroom.core.models import Event
from postroom.store import blobs


async def _store(app: Postroom, tenant_id: int, subjects: list[str]) -> list[int]:
    stored = [await app.ingestor.ingest(Incoming(message(subject), tenant_id)) for subject in subjects]
    return [item.id for item in stored]


async def test_prune_keeps_the_newest_per_tenant(app: Postroom) -> None:
    other = int((await app.auth.create_tenant("other", "Other"))["id"])
    ids = await _store(app, app.default_tenant_id, [f"default {n}" for n in range(7)])
    await _store(app, other, ["other 0", "other 1"])
    assert await prune(app.engine, app.messages, 3) == 4
    kept = await find(app, "")
    assert [item["id"] for item in kept] == ids[-1:-4:-1]  # newest first
    assert len(await find(app, "", tenant_id=other)) == 2
    async with app.engine.connect() as conn:
        deleted = list(await conn.scalars(select(Event.payload).where(Event.type == "message.deleted")))
    assert sorted(i for payload in deleted for i in payload["ids"]) == ids[:4]
    assert await prune(app.engine, app.messages, 3) == 0
    assert await prune(app.engine, app.messages, 0) == 0


async def test_prune_releases_the_blobs_of_dropped_messages(app: Postroom) -> None:
    unique = await app.ingestor.ingest(Incoming(message("old and unique"), app.default_tenant_id))
    shared_raw = message("shared content")
    older_copy = await app.ingestor.ingest(Incoming(shared_raw, app.default_tenant_id))
    await _store(app, app.default_tenant_id, ["newest"])
    newer_copy = await app.ingestor.ingest(Incoming(shared_raw, app.default_tenant_id))
    assert older_copy.blob_sha256 == newer_copy.blob_sha256

    assert await prune(app.engine, app.messages, 2) == 2
    async with app.engine.connect() as conn:
        indexed = await blobs.locate(conn, [unique.blob_sha256, newer_copy.blob_sha256])
    assert set(indexed) == {newer_copy.blob_sha256}  # the kept copy still uses the shared blob
    assert await app.messages.raw(app.default_tenant_id, newer_copy.id) == shared_raw


async def test_prune_works_in_chunks_on_many_messages(app: Postroom) -> None:
    subjects = [f"bulk {n}" for n in range(1_200)]
    stored = await app.ingestor.ingest_many([Incoming(message(s), app.default_tenant_id) for s in subjects])
    assert await prune(app.engine, app.messages, 10) == 1_190
    kept = await find(app, "")
    assert [item["id"] for item in kept] == [item.id for item in reversed(stored[-10:])]
