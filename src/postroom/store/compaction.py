"""Compaction: rewrite old segments that are mostly dead, so disk use follows the live data.

Deleting messages only forgets their index rows; a segment file goes away once no blob
is left in it. A capture server pruned to ``MAX_MESSAGES``, or a mailbox whose owner
deleted most of it, keeps segments that are a few percent live for ever. Compaction
copies the live records of such a segment into the compacting process's own segment
(fsynced), then moves the index rows in ONE transaction, each only if it still points
at the old place (a delete meanwhile must not bring a blob back), and deletes the old
file only after that commit. A crash before the commit leaves the old locations valid;
after it, the new ones are. A reader that located a blob before the swap and reads it
after the old file went re-locates it once (``read_relocating``).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import BigInteger, String, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.store.blobs import HEADER, SEGMENT_GRACE_SECONDS, Blob, BlobNotFound, BlobRef, BlobStore, blob_digest
from postroom.store.blobs import locate as locate_blobs

log = structlog.get_logger(__name__)

DEFAULT_THRESHOLD = 0.5  # compact a segment whose live records fill less than this share of it
MIN_RECLAIM_BYTES = 1024 * 1024  # ...and only when that frees at least this much
# After a delete, at most this many segments are rewritten (about 64 MiB of copying at the
# default threshold), so a delete request stays short; the next delete takes the next ones.
IN_PASSING_SEGMENTS = 2
COPY_BATCH_BYTES = 8 * 1024 * 1024  # raw bytes handed to one append (one write, one fsync)
PLAN_IN_LIST = 1000  # more candidates than this: aggregate every segment rather than list them
LOCK_CLASS = 0x50524231  # "PRB1": the first key of the advisory locks compaction takes

# Segments this process is compacting right now. On PostgreSQL the advisory lock also keeps
# other processes off them; on SQLite a second process (``postroom compact`` next to
# ``postroom serve``) may copy a segment twice, which costs space until the duplicate's own
# segment is compacted but loses nothing: only one swap finds the rows where it expects them.
_in_progress: set[str] = set()


@dataclass(frozen=True)
class CompactionResult:
    segments: int = 0  # old segment files rewritten and deleted
    bytes_before: int = 0  # their size on disk
    bytes_after: int = 0  # what their live records took when written anew
    blobs_moved: int = 0

    @property
    def reclaimed(self) -> int:
        return self.bytes_before - self.bytes_after

    def __add__(self, other: CompactionResult) -> CompactionResult:
        return CompactionResult(
            self.segments + other.segments,
            self.bytes_before + other.bytes_before,
            self.bytes_after + other.bytes_after,
            self.blobs_moved + other.blobs_moved,
        )


@dataclass(frozen=True)
class Candidate:
    segment: str
    size: int  # bytes on disk
    live: int  # bytes of the records the index points at (headers included)

    @property
    def reclaimable(self) -> int:
        return self.size - self.live


@dataclass(frozen=True)
class Copied:
    old: BlobRef
    new: BlobRef


async def plan(
    engine: AsyncEngine,
    store: BlobStore,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_reclaim: int = MIN_RECLAIM_BYTES,
    grace_seconds: float = SEGMENT_GRACE_SECONDS,
) -> list[Candidate]:
    """Old segments worth compacting, the most reclaimable first: at most one aggregate query."""
    sizes = _old_segments(store, grace_seconds, min_reclaim)
    if not sizes:
        return []
    query = select(Blob.segment, func.count(), func.sum(Blob.length)).group_by(Blob.segment)
    if len(sizes) <= PLAN_IN_LIST:
        query = query.where(Blob.segment.in_(list(sizes)))
    async with engine.connect() as conn:
        live = {segment: int(total or 0) + count * HEADER.size for segment, count, total in await conn.execute(query)}
    found = [Candidate(segment, size, live.get(segment, 0)) for segment, size in sizes.items()]
    chosen = [c for c in found if c.live < threshold * c.size and c.reclaimable >= min_reclaim]
    return sorted(chosen, key=lambda c: c.reclaimable, reverse=True)


def _old_segments(store: BlobStore, grace_seconds: float, min_size: int) -> dict[str, int]:
    # The same rule as BlobStore.deletable_segments: a segment untouched for the grace period
    # is no process's current one any more (each moves on after SEGMENT_SECONDS).
    cutoff = time.time() - grace_seconds
    writing = store.current_segment  # this process's own segment, whatever its age
    found: dict[str, int] = {}
    for path in store.segments.glob("*.seg"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted by another process meanwhile
            continue
        if path.name != writing and stat.st_mtime <= cutoff and stat.st_size >= min_size:
            found[path.name] = stat.st_size
    return found


async def compact(
    engine: AsyncEngine,
    store: BlobStore,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_reclaim: int = MIN_RECLAIM_BYTES,
    grace_seconds: float = SEGMENT_GRACE_SECONDS,
    max_segments: int | None = None,
) -> CompactionResult:
    """Compact every old segment whose live share is below ``threshold`` (or the first ``max_segments``)."""
    if not 0 < threshold <= 1:
        raise ValueError("the threshold is a share of the segment's size: above 0, at most 1")
    candidates = await plan(engine, store, threshold=threshold, min_reclaim=min_reclaim, grace_seconds=grace_seconds)
    result = CompactionResult()
    for candidate in candidates[:max_segments]:
        result += await compact_segment(engine, store, candidate)
    if result.segments:
        log.info(
            "blob_segments_compacted",
            segments=result.segments,
            bytes_before=result.bytes_before,
            bytes_after=result.bytes_after,
            blobs_moved=result.blobs_moved,
        )
    return result


async def compact_in_passing(engine: AsyncEngine, store: BlobStore) -> CompactionResult:
    """After deletes: a few segments at most. A failure is logged, not raised: the deletes are
    committed already, and the next call tries again."""
    try:
        return await compact(engine, store, max_segments=IN_PASSING_SEGMENTS)
    except (OSError, SQLAlchemyError) as exc:
        log.warning("blob_compaction_failed", error=str(exc)[:500])
        return CompactionResult()


async def compact_segment(engine: AsyncEngine, store: BlobStore, candidate: Candidate) -> CompactionResult:
    key = str(store.path_of(candidate.segment))
    if key in _in_progress:
        return CompactionResult()
    _in_progress.add(key)
    try:
        async with engine.connect() as conn:
            if not await claim(conn, candidate.segment):
                return CompactionResult()
            copied = await copy_live(conn, store, candidate.segment)
            if copied is None:
                return CompactionResult()
            moved = await swap(conn, candidate.segment, copied)
            emptied = not await _points_into(conn, candidate.segment)
            await conn.commit()
        if not emptied:  # cannot happen while the grace period holds; keep the file to be safe
            log.warning("blob_segment_still_referenced", segment=candidate.segment)
            return CompactionResult(0, 0, 0, moved)
        if not store.path_of(candidate.segment).exists():  # another process finished it first
            return CompactionResult(0, 0, 0, moved)
        store.delete_segment(candidate.segment)
        written = sum(HEADER.size + c.new.length for c in copied)
        return CompactionResult(1, candidate.size, written, moved)
    finally:
        _in_progress.discard(key)


async def claim(conn: AsyncConnection, segment: str) -> bool:
    """Keep other processes off this segment until ``conn``'s transaction ends.

    PostgreSQL: a transaction-level advisory lock rather than a session one, because it
    goes away by itself at commit, rollback or a lost connection, so a pooled connection
    can never keep a segment locked; and rather than a conditional update of a claim
    column, because it needs no schema and no cleanup after a crash. It covers reading the
    rows, copying and the swap; the file is deleted after the commit, and a process that
    takes the lock after that finds no row in the segment and copies nothing. SQLite: one
    writer process by design; see ``_in_progress`` for a second one.
    """
    if conn.dialect.name != "postgresql":
        return True
    checksum = zlib.crc32(segment.encode())
    key = checksum - (1 << 32) if checksum >= 1 << 31 else checksum  # as a signed int4
    locked = await conn.scalar(_PG_LOCK, {"lock_class": LOCK_CLASS, "key": key})
    return bool(locked)


_PG_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock_class, :key)")


async def copy_live(conn: AsyncConnection, store: BlobStore, segment: str) -> list[Copied] | None:
    """Append every record the index points at in ``segment`` to ``store``'s own segment.

    None when a record cannot be read back intact: the segment is left as it is."""
    rows = await conn.execute(
        select(Blob.digest, Blob.offset, Blob.length, Blob.size).where(Blob.segment == segment).order_by(Blob.offset)
    )
    refs = [BlobRef(r.digest, segment, r.offset, r.length, r.size) for r in rows]
    return await asyncio.to_thread(_copy, store, refs)


def _copy(store: BlobStore, refs: Sequence[BlobRef]) -> list[Copied] | None:
    copied: list[Copied] = []
    batch: list[tuple[BlobRef, bytes]] = []
    pending = 0
    for ref in refs:
        try:
            raw = store.read(ref)
        except BlobNotFound:  # compacted by another process first, or damaged
            log.warning("blob_compaction_unreadable", segment=ref.segment, digest=ref.digest)
            return None
        if blob_digest(raw) != ref.digest:
            log.warning("blob_compaction_digest_mismatch", segment=ref.segment, digest=ref.digest)
            return None
        batch.append((ref, raw))
        pending += len(raw)
        if pending >= COPY_BATCH_BYTES:
            copied += _append(store, batch)
            batch, pending = [], 0
    return copied + _append(store, batch)


def _append(store: BlobStore, batch: list[tuple[BlobRef, bytes]]) -> list[Copied]:
    if not batch:
        return []
    new = store.append([(raw, ref.digest) for ref, raw in batch])
    return [Copied(ref, moved) for (ref, _), moved in zip(batch, new, strict=True)]


async def swap(conn: AsyncConnection, segment: str, copied: Sequence[Copied]) -> int:
    """Point the index at the copies, row by row only where it still points at the old record;
    returns how many rows moved. The caller commits."""
    if not copied:
        return 0
    if conn.dialect.name == "postgresql":
        # One statement over arrays: its row count is exact (an executemany's is not on asyncpg).
        result = await conn.execute(
            _PG_SWAP,
            {
                "old_segment": segment,
                "digests": [c.old.digest for c in copied],
                "old_offsets": [c.old.offset for c in copied],
                "new_segments": [c.new.segment for c in copied],
                "new_offsets": [c.new.offset for c in copied],
                "new_lengths": [c.new.length for c in copied],
            },
        )
        return int(result.rowcount)
    statement = (
        update(Blob)
        .where(
            Blob.digest == bindparam("b_digest"),
            Blob.segment == bindparam("b_old_segment"),
            Blob.offset == bindparam("b_old_offset"),
        )
        .values(segment=bindparam("b_segment"), offset=bindparam("b_offset"), length=bindparam("b_length"))
    )
    params: list[dict[str, Any]] = [
        {
            "b_digest": c.old.digest,
            "b_old_segment": segment,
            "b_old_offset": c.old.offset,
            "b_segment": c.new.segment,
            "b_offset": c.new.offset,
            "b_length": c.new.length,
        }
        for c in copied
    ]
    result = await conn.execute(statement, params)
    return int(result.rowcount)  # sqlite3 sums an executemany's row counts


_PG_SWAP = text(
    'UPDATE blobs AS b SET segment = v.new_segment, "offset" = v.new_offset, length = v.new_length '
    "FROM unnest(:digests, :old_offsets, :new_segments, :new_offsets, :new_lengths) "
    "AS v(digest, old_offset, new_segment, new_offset, new_length) "
    'WHERE b.digest = v.digest AND b.segment = :old_segment AND b."offset" = v.old_offset'
).bindparams(
    bindparam("digests", type_=ARRAY(String)),
    bindparam("old_offsets", type_=ARRAY(BigInteger)),
    bindparam("new_segments", type_=ARRAY(String)),
    bindparam("new_offsets", type_=ARRAY(BigInteger)),
    bindparam("new_lengths", type_=ARRAY(BigInteger)),
)


async def _points_into(conn: AsyncConnection, segment: str) -> bool:
    return (await conn.scalar(select(Blob.digest).where(Blob.segment == segment).limit(1))) is not None


async def read_relocating(engine: AsyncEngine, store: BlobStore, ref: BlobRef) -> bytes:
    """Read a blob located earlier; if compaction moved it since (its old file is gone), read
    it where the index says it is now."""
    try:
        return await asyncio.to_thread(store.read, ref)
    except BlobNotFound:
        async with engine.connect() as conn:
            now = (await locate_blobs(conn, [ref.digest])).get(ref.digest)
        if now is None or now == ref:
            raise
        return await asyncio.to_thread(store.read, now)
