"""Content-addressed, compressed storage of raw messages on disk, in append-only segment files.

Each raw message is compressed (zstd) and appended to the writing process's current
segment file; one write and one fdatasync cover a whole ingest batch, which is what lets SMTP
acknowledge durably at full speed (a file per message cost ~270 µs of create and
rename on the disks measured here, more than the whole ingest budget). The
``blobs`` table maps each SHA-256 to its segment, offset and length, and is written
in the same transaction as the message rows. Every record starts with a header
(magic, digest, length), so the index can be rebuilt from the segments alone.

An append is planned first (``plan``: its byte range, at once) and written after
(``PlannedAppend.write``, any thread), so rows can be prepared while the bytes go to
disk. A process appends to its own segment and moves to a new one after
``SEGMENT_BYTES`` or ``SEGMENT_SECONDS``; a segment with no live blob left is deleted
once it is older than ``SEGMENT_GRACE_SECONDS`` (so no writer can still be using it).
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard
from sqlalchemy import String, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from postroom.store import bulk
from postroom.store.base import Base
from postroom.store.types import BigIntId

ZSTD_LEVEL = 3
ZSTD_FRAME = b"\x28\xb5\x2f\xfd"  # every zstd frame starts so; a zlib stream starts with 0x78
MAGIC = b"PRB1"
HEADER = struct.Struct(">4s32sI")  # magic, raw SHA-256, compressed length
SEGMENT_BYTES = 64 * 1024 * 1024
SEGMENT_SECONDS = 600.0
SEGMENT_GRACE_SECONDS = 2 * SEGMENT_SECONDS


class BlobNotFound(LookupError):
    pass


class Blob(Base):
    __tablename__ = "blobs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    offset: Mapped[int] = mapped_column(BigIntId, nullable=False)
    length: Mapped[int] = mapped_column(BigIntId, nullable=False)
    size: Mapped[int] = mapped_column(BigIntId, nullable=False)


@dataclass(frozen=True)
class PackedBlob:
    """A raw message hashed and compressed, ready to append (``BlobStore.pack``)."""

    digest: str
    size: int  # raw length
    data: bytes  # compressed


@dataclass(frozen=True)
class PlannedAppend:
    """Blobs given their place in a segment (``refs``), not yet written: ``write()`` does that."""

    store: BlobStore
    segment: str
    offset: int
    payload: bytes
    refs: list[BlobRef]

    def write(self) -> None:
        """Write and sync, from any thread; the blobs are durable on return (with fsync on)."""
        try:
            self.store.create(self.segment)
            fd = os.open(self.store.path_of(self.segment), os.O_WRONLY)
            try:
                if os.pwrite(fd, self.payload, self.offset) != len(self.payload):
                    raise OSError(f"short write to blob segment {self.segment}")
                if self.store.fsync:
                    _sync_data(fd)
            finally:
                os.close(fd)
        except OSError:
            self.store.abandon(self.segment)  # a gap may be left: later blobs go to a new segment
            raise


@dataclass(frozen=True)
class BlobRef:
    digest: str
    segment: str
    offset: int  # where the compressed bytes start (after the record header)
    length: int  # compressed length
    size: int  # raw length


def blob_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# zstd at level 3 compresses mail as well as zlib at level 3 in a fifth of the time (16
# vs 90 us for a 7 KiB message), and compression sits inside every group commit. Records
# written before the switch are zlib streams; reads tell the two apart by their first bytes.
_codecs = threading.local()


def compress(raw: bytes) -> bytes:
    compressor = getattr(_codecs, "compressor", None)
    if compressor is None:  # a ZstdCompressor must not be shared between threads
        compressor = _codecs.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return bytes(compressor.compress(raw))


def decompress(data: bytes) -> bytes:
    if not data.startswith(ZSTD_FRAME):
        return zlib.decompress(data)
    decompressor = getattr(_codecs, "decompressor", None)
    if decompressor is None:
        decompressor = _codecs.decompressor = zstandard.ZstdDecompressor()
    return bytes(decompressor.decompress(data))


class BlobStore:
    def __init__(
        self,
        root: Path,
        *,
        fsync: bool = True,
        segment_bytes: int = SEGMENT_BYTES,
        segment_seconds: float = SEGMENT_SECONDS,
    ) -> None:
        self.root = root
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self.segments = root / "segments"
        self.segments.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._current: str | None = None
        self._end = 0  # where the next blob in the current segment goes
        self._opened_at = 0.0
        self._prefix = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._sequence = 0
        self._create_lock = threading.Lock()
        self._created: list[str] = []  # the newest segments known to exist, durably named

    @property
    def current_segment(self) -> str | None:
        """The segment this process appends to now (never to be compacted or deleted)."""
        return self._current

    def path_of(self, segment: str) -> Path:
        return self.segments / segment

    @staticmethod
    def pack(raw: bytes, digest: str | None = None) -> PackedBlob:
        return PackedBlob(digest or blob_digest(raw), len(raw), compress(raw))

    def _segment_for(self, incoming: int) -> str:
        """The segment ``incoming`` bytes go to: the current one, or a new one (created by the
        first write into it, off the caller's event loop)."""
        now = time.monotonic()
        fits = self._end + incoming <= self.segment_bytes and now - self._opened_at < self.segment_seconds
        if self._current is not None and fits:
            return self._current
        self._sequence += 1
        self._current = f"{self._prefix}-{self._sequence:06d}.seg"
        self._opened_at = now
        self._end = 0
        return self._current

    def create(self, segment: str) -> None:
        """Make ``segment`` exist with a durable name, once; every write into it calls this
        first, so no write returns before the file it went to can be found after a crash."""
        with self._create_lock:
            if segment in self._created:
                return
            os.close(os.open(self.path_of(segment), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
            if self.fsync:
                _fsync_dir(self.segments)
            # A segment vanished since (disk trouble) must fail its writes, not be made again.
            self._created = [*self._created[-7:], segment]

    def plan(self, blobs: Sequence[PackedBlob]) -> PlannedAppend:
        """Give packed blobs their place at the end of this process's segment.

        Planning is cheap and returns at once; the caller can write the rows that point at
        the blobs while ``write()`` runs elsewhere, as long as it commits them only after.
        Each plan owns its byte range, so writes may finish in any order."""
        total = sum(HEADER.size + len(blob.data) for blob in blobs)
        with self._lock:
            segment = self._segment_for(total)
            offset = position = self._end
            self._end += total
        chunks: list[bytes] = []
        refs: list[BlobRef] = []
        for blob in blobs:
            chunks.append(HEADER.pack(MAGIC, bytes.fromhex(blob.digest), len(blob.data)))
            chunks.append(blob.data)
            refs.append(BlobRef(blob.digest, segment, position + HEADER.size, len(blob.data), blob.size))
            position += HEADER.size + len(blob.data)
        return PlannedAppend(self, segment, offset, b"".join(chunks), refs)

    def abandon(self, segment: str) -> None:
        """After a failed write: append nothing more to ``segment``."""
        with self._lock:
            if self._current == segment:
                self._current = None

    def append(self, items: Sequence[tuple[bytes, str]]) -> list[BlobRef]:
        """Compress and append (raw, digest) pairs in one write; durable on return when fsync is on."""
        return self.append_packed([self.pack(raw, digest) for raw, digest in items])

    def append_packed(self, blobs: Sequence[PackedBlob]) -> list[BlobRef]:
        """Append packed blobs in one write; durable on return when fsync is on."""
        planned = self.plan(blobs)
        planned.write()
        return planned.refs

    def read(self, ref: BlobRef) -> bytes:
        try:
            with self.path_of(ref.segment).open("rb") as handle:
                handle.seek(ref.offset)
                data = handle.read(ref.length)
        except FileNotFoundError as exc:
            raise BlobNotFound(ref.digest) from exc
        if len(data) != ref.length:
            raise BlobNotFound(ref.digest)
        return decompress(data)

    def scan(self, segment: str) -> Iterable[BlobRef]:
        """Every record in a segment, from its headers (for rebuilding the index)."""
        with self.path_of(segment).open("rb") as handle:
            position = 0
            while header := handle.read(HEADER.size):
                if len(header) < HEADER.size:
                    return
                magic, digest, length = HEADER.unpack(header)
                if magic != MAGIC:
                    return
                data = handle.read(length)
                if len(data) < length:
                    return  # a write cut short by a crash; it was never acknowledged
                start = position + HEADER.size
                yield BlobRef(digest.hex(), segment, start, length, len(decompress(data)))
                position = start + length

    def deletable_segments(self, live: set[str]) -> list[str]:
        """Old segments no blob points into any more."""
        cutoff = time.time() - SEGMENT_GRACE_SECONDS
        found = []
        for path in self.segments.glob("*.seg"):
            if path.name not in live and path.name != self._current and path.stat().st_mtime < cutoff:
                found.append(path.name)
        return found

    def delete_segment(self, segment: str) -> None:
        self.path_of(segment).unlink(missing_ok=True)


def _sync_data(fd: int) -> None:
    # fdatasync still writes the metadata needed to read the data back (the new file
    # size) but not the timestamps: 0.27 instead of 0.44 ms an append on ext4 here.
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # macOS
        os.fsync(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- the index, in the caller's transaction -------------------------------------------
async def record(conn: bulk.Target, refs: Sequence[BlobRef]) -> None:
    """Index new blobs; a digest stored before keeps its first location.

    A digest already indexed gets its row locked (a no-op update), so that a delete of its
    last other message, running ``forget_unreferenced`` at the same time, waits for this
    transaction and then sees the new reference instead of dropping the row under it.
    """
    first = {r.digest: r for r in reversed(refs)}  # one row per digest, the first one's place
    if not first:
        return
    await bulk.insert_many(
        conn,
        "blobs",
        ["digest", "segment", "offset", "length", "size"],
        [(r.digest, r.segment, r.offset, r.length, r.size) for r in first.values()],
        on_conflict="ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest",
    )


async def locate(conn: AsyncConnection, digests: Iterable[str]) -> dict[str, BlobRef]:
    wanted = list(set(digests))
    if not wanted:
        return {}
    rows = await conn.execute(select(Blob).where(Blob.digest.in_(wanted)))
    return {r.digest: BlobRef(r.digest, r.segment, r.offset, r.length, r.size) for r in rows}


async def forget_unreferenced(conn: AsyncConnection, digests: Iterable[str], referenced_by: type[Base]) -> int:
    """Drop index rows of digests no row of ``referenced_by`` (with a blob_sha256 column) uses."""
    wanted = list(set(digests))
    if not wanted:
        return 0
    column = referenced_by.blob_sha256  # type: ignore[attr-defined]
    if conn.dialect.name == "postgresql":
        # Wait for a commit in flight that references one of these (see ``record``): the
        # DELETE below, a statement of its own, then sees that commit's rows.
        await conn.execute(select(Blob.digest).where(Blob.digest.in_(wanted)).order_by(Blob.digest).with_for_update())
    result = await conn.execute(delete(Blob).where(Blob.digest.in_(wanted), ~exists().where(column == Blob.digest)))
    return int(result.rowcount)


async def live_segments(conn: AsyncConnection) -> set[str]:
    return set(await conn.scalars(select(Blob.segment).distinct()))
