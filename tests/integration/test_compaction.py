"""Compaction of the raw-message segments on both engines: disk use follows the live messages."""

from __future__ import annotations

import base64
import os
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.integration.test_cli import postroom

from postroom.auth.service import AuthService
from postroom.config import Settings
from postroom.core.ingest import Incoming, Ingestor, Stored
from postroom.core.messages import MessageNotFound, MessageService
from postroom.store import blobs as blob_index
from postroom.store import compaction
from postroom.store.blobs import HEADER, SEGMENT_GRACE_SECONDS, Blob, BlobNotFound, BlobStore
from postroom.store.engine import create_engine

KIB = 1024


@dataclass
class Store:
    engine: AsyncEngine
    blobs: BlobStore
    ingestor: Ingestor
    messages: MessageService
    tenant: int

    async def put(self, raws: list[bytes], batch: int = 8) -> list[Stored]:
        stored: list[Stored] = []
        for start in range(0, len(raws), batch):
            chunk = raws[start : start + batch]
            stored += await self.ingestor.ingest_many([Incoming(raw=raw, tenant_id=self.tenant) for raw in chunk])
        return stored

    async def locate(self, digest: str) -> blob_index.BlobRef | None:
        async with self.engine.connect() as conn:
            return (await blob_index.locate(conn, [digest])).get(digest)

    async def live_bytes(self) -> int:
        async with self.engine.connect() as conn:
            count, total = (await conn.execute(select(func.count(), func.sum(Blob.length)))).one()
        return int(total or 0) + int(count) * HEADER.size

    def disk_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.blobs.segments.glob("*.seg"))

    def segment_sizes(self) -> dict[str, int]:
        return {path.name: path.stat().st_size for path in self.blobs.segments.glob("*.seg")}


@asynccontextmanager
async def opened(settings: Settings, segment_bytes: int) -> AsyncIterator[Store]:
    engine = create_engine(settings.resolved_database_url)
    blobs = BlobStore(settings.blob_dir, fsync=False, segment_bytes=segment_bytes)
    ingestor = Ingestor(engine, blobs)
    tenant = await AuthService(engine, settings).ensure_default_tenant()
    try:
        yield Store(engine, blobs, ingestor, MessageService(engine, blobs), tenant)
    finally:
        await ingestor.stop()
        await engine.dispose()


def message(n: int, body_bytes: int = 3 * KIB) -> bytes:
    # Random bytes, base64-encoded: a body that compresses about as little as an attachment.
    body = base64.encodebytes(random.Random(n).randbytes(body_bytes)).decode().replace("\n", "\r\n")
    return (
        f"From: Sender <sender{n}@example.com>\r\nTo: rcpt@example.org\r\nSubject: Message {n}\r\n"
        f"Message-ID: <{n}@example.com>\r\n\r\n{body}"
    ).encode()


def age_segments(store: BlobStore) -> None:
    """Make every segment file look untouched for longer than the grace period."""
    past = time.time() - 2 * SEGMENT_GRACE_SECONDS
    for path in store.segments.glob("*.seg"):
        os.utime(path, (past, past))


async def test_compaction_shrinks_mostly_dead_segments_and_keeps_every_live_byte(settings: Settings) -> None:
    async with opened(settings, segment_bytes=64 * KIB) as store:
        raws = [message(n) for n in range(240)]
        stored = await store.put(raws)
        # The oldest two thirds lose nine messages in ten; the newest third stays whole.
        kept = {n for n in range(240) if n >= 160 or n % 10 == 0}
        await store.messages.delete_ids(store.tenant, [s.id for n, s in enumerate(stored) if n not in kept])
        refs = {n: await store.locate(stored[n].blob_sha256) for n in kept}
        writing = refs[239].segment if refs[239] else None  # where the compacted records go too
        whole = {ref.segment for n, ref in refs.items() if ref and n >= 176} - {writing}  # fully live
        sizes_before = store.segment_sizes()
        disk_before = store.disk_bytes()
        live = await store.live_bytes()
        assert disk_before > 2 * live  # the deletes alone freed nothing on disk

        result = await compaction.compact(store.engine, store.blobs, grace_seconds=0, min_reclaim=0)

        assert result.segments >= 8
        assert result.blobs_moved == sum(1 for n in kept if n < 160)
        assert result.reclaimed == result.bytes_before - result.bytes_after > 0
        disk_after = store.disk_bytes()
        assert disk_after == disk_before - result.reclaimed
        assert live <= disk_after < 1.2 * live  # about the live data, no longer the whole history
        for n, s in enumerate(stored):
            if n in kept:
                assert await store.messages.raw(store.tenant, s.id) == raws[n]
            else:
                with pytest.raises(MessageNotFound):
                    await store.messages.raw(store.tenant, s.id)
                assert await store.locate(s.blob_sha256) is None
        # Segments full of live messages are left as they were.
        assert whole
        for segment in whole:
            assert store.segment_sizes()[segment] == sizes_before[segment]
        now = [await store.locate(stored[n].blob_sha256) for n in kept if n >= 176]
        assert {ref.segment for ref in now if ref} == whole | {writing} and all(now)
        # Moved messages still parse in full.
        detail = await store.messages.get(store.tenant, stored[0].id)
        assert detail["subject"] == "Message 0" and detail["text"].strip()
        # Nothing is left to do.
        again = await compaction.compact(store.engine, store.blobs, grace_seconds=0, min_reclaim=0)
        assert again.segments == 0


async def test_a_segment_still_mostly_live_or_young_is_not_compacted(settings: Settings) -> None:
    async with opened(settings, segment_bytes=64 * KIB) as store:
        stored = await store.put([message(n) for n in range(60)])
        await store.messages.delete_ids(store.tenant, [s.id for s in stored[::5]])  # a fifth dead
        before = store.segment_sizes()
        assert await compaction.compact(store.engine, store.blobs, grace_seconds=0, min_reclaim=0) == (
            compaction.CompactionResult()
        )
        await store.messages.delete_ids(store.tenant, [s.id for n, s in enumerate(stored) if n % 5 != 1])
        # Mostly dead now, but younger than the grace period: another process may still write there.
        assert (await compaction.compact(store.engine, store.blobs, min_reclaim=0)).segments == 0
        # With the default minimum, a few KiB to win is not worth a rewrite.
        assert (await compaction.compact(store.engine, store.blobs, grace_seconds=0)).segments == 0
        assert store.segment_sizes() == before
        with pytest.raises(ValueError, match="threshold"):
            await compaction.compact(store.engine, store.blobs, threshold=0)


async def test_a_blob_deleted_between_copy_and_swap_is_not_brought_back(settings: Settings) -> None:
    async with opened(settings, segment_bytes=64 * KIB) as store:
        raws = [message(n) for n in range(40)]
        stored = await store.put(raws)
        first = await store.locate(stored[0].blob_sha256)
        assert first is not None
        segment = first.segment
        in_first = [
            n for n, s in enumerate(stored) if (r := await store.locate(s.blob_sha256)) and r.segment == segment
        ]
        survivors, victim, returning = in_first[:2], in_first[2], in_first[3]
        await store.messages.delete_ids(store.tenant, [stored[n].id for n in in_first[4:]])

        async with store.engine.connect() as conn:
            assert await compaction.claim(conn, segment)
            copied = await compaction.copy_live(conn, store.blobs, segment)
            assert copied is not None and len(copied) == 4
            # From other connections, while the copies are written but not yet swapped: one
            # message is deleted, and another is deleted and its content arrives again, indexed anew.
            await store.messages.delete(store.tenant, stored[victim].id)
            await store.messages.delete(store.tenant, stored[returning].id)
            (again,) = await store.put([raws[returning]])
            fresh = await store.locate(again.blob_sha256)
            assert fresh is not None and fresh.segment != segment
            moved = await compaction.swap(conn, segment, copied)
            await conn.commit()

        assert moved == 2
        assert await store.locate(stored[victim].blob_sha256) is None
        with pytest.raises(MessageNotFound):
            await store.messages.raw(store.tenant, stored[victim].id)
        assert await store.locate(again.blob_sha256) == fresh
        assert await store.messages.raw(store.tenant, again.id) == raws[returning]
        for n in survivors:
            ref = await store.locate(stored[n].blob_sha256)
            assert ref is not None and ref.segment != segment
            assert await store.messages.raw(store.tenant, stored[n].id) == raws[n]


async def test_on_postgresql_one_process_at_a_time_compacts_a_segment(settings: Settings) -> None:
    first, second = create_engine(settings.resolved_database_url), create_engine(settings.resolved_database_url)
    try:
        async with first.connect() as holder, second.connect() as other:
            assert await compaction.claim(holder, "host-1-a-000001.seg")
            # SQLite has one writing process; on PostgreSQL a second one is kept off until the commit.
            assert await compaction.claim(other, "host-1-a-000001.seg") == (first.dialect.name == "sqlite")
            assert await compaction.claim(other, "host-1-a-000002.seg")
            await holder.commit()
            await other.rollback()
            assert await compaction.claim(other, "host-1-a-000001.seg")
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_read_located_before_the_swap_finds_the_blob_after_it(settings: Settings) -> None:
    async with opened(settings, segment_bytes=64 * KIB) as store:
        raws = [message(n) for n in range(40)]
        stored = await store.put(raws)
        old = await store.locate(stored[0].blob_sha256)
        assert old is not None
        await store.messages.delete_ids(store.tenant, [s.id for s in stored[1:]])
        result = await compaction.compact(store.engine, store.blobs, grace_seconds=0, min_reclaim=0)
        assert result.segments >= 1 and not store.blobs.path_of(old.segment).exists()
        with pytest.raises(BlobNotFound):
            store.blobs.read(old)  # the location a reader found before the compaction is gone...
        assert await compaction.read_relocating(store.engine, store.blobs, old) == raws[0]  # ...yet it reads


async def test_deleting_messages_compacts_old_segments_in_passing(settings: Settings) -> None:
    async with opened(settings, segment_bytes=1536 * KIB) as store:
        raws = [message(n, body_bytes=30 * KIB) for n in range(170)]
        stored = await store.put(raws, batch=4)
        before = store.segment_sizes()
        assert len(before) == 4  # three full, and the one being written
        age_segments(store.blobs)
        kept = set(range(0, 170, 10))
        await store.messages.delete_ids(store.tenant, [s.id for n, s in enumerate(stored) if n not in kept])
        after = store.segment_sizes()
        assert len(set(before) - set(after)) == compaction.IN_PASSING_SEGMENTS == 2
        assert sum(after.values()) < sum(before.values()) - 2 * 1024 * KIB
        # The next delete takes the next segment.
        await store.messages.delete(store.tenant, stored[10].id)
        assert len(set(before) - set(store.segment_sizes())) == 3
        for n in kept - {10}:
            assert await store.messages.raw(store.tenant, stored[n].id) == raws[n]


async def test_postroom_compact_reclaims_the_space_of_deleted_messages(settings: Settings) -> None:
    raws = [message(n) for n in range(60)]
    async with opened(settings, segment_bytes=64 * 1024 * KIB) as store:
        stored = await store.put(raws)
        await store.messages.delete_ids(store.tenant, [s.id for n, s in enumerate(stored) if n % 3])
        age_segments(store.blobs)
        before = store.disk_bytes()

    refused = postroom(settings, "compact", "--threshold", "1.5")
    assert refused.returncode == 2 and "--threshold must be above 0 and at most 1" in refused.stderr
    ran = postroom(settings, "compact", "--threshold", "0.9", "--min-reclaim", "1024")
    assert ran.returncode == 0, ran.stderr
    assert "compacted 1 segments" in ran.stderr and "20 blobs moved" in ran.stderr
    again = postroom(settings, "compact", "--threshold", "0.9", "--min-reclaim", "1024")
    assert again.returncode == 0 and "nothing to compact" in again.stderr

    async with opened(settings, segment_bytes=64 * 1024 * KIB) as store:
        assert store.disk_bytes() < before / 2
        assert store.disk_bytes() <= await store.live_bytes() + 64 * KIB
        for n, s in enumerate(stored):
            if n % 3 == 0:
                assert await store.messages.raw(store.tenant, s.id) == raws[n]
