"""Ingest: the one way a message enters the store, whatever its source.

The hot path stays lean: the caller's task parses only the header block and hashes and
compresses the raw bytes; a single writer task then takes every message queued
meanwhile and, per batch, writes the blobs (one write and fdatasync, in a thread) and
commits ONE transaction with the message rows, tags, header search rows and
``message.received`` events (group commit; on PostgreSQL the rows go in while the blobs
are written, and COMMIT waits for both). ``ingest()`` returns only after that commit,
so SMTP can answer 250 knowing the message is durable. The full MIME parse runs later
(see ``core.parsing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.core import events, metrics
from postroom.core.events import EventHub, NewEvent, WakeThrottle
from postroom.mime import Address, HeaderSummary, parse_headers
from postroom.store import blobs, bulk, counters, search
from postroom.store.blobs import BlobRef, BlobStore, PackedBlob, PlannedAppend
from postroom.store.engine import SQLITE_PRAGMAS, sqlite_file
from postroom.store.ingest_connections import IngestConnections
from postroom.store.models import Message, ParseState
from postroom.store.types import db_json, db_text, utcnow

log = structlog.get_logger(__name__)

MAX_BATCH = 256
MESSAGE_COLUMNS = [column.name for column in Message.__table__.columns if column.name != "id"]
JSON_COLUMNS = {"to", "cc", "bcc", "reply_to", "envelope_to", "flags"}
MESSAGE_CASTS = ["jsonb" if c in JSON_COLUMNS else "" for c in MESSAGE_COLUMNS]
MAX_TAG_LENGTH = 100
# During a burst, readers of the event log (live push, the webhook dispatcher) are woken
# at most this often rather than after every group commit: each wake costs a dispatcher
# pass (a query), which took a quarter of the server's CPU at ~200 commits/s. The first
# commit after a quiet spell wakes them at once.
WAKE_INTERVAL_SECONDS = 0.05


@functools.cache
def _received_counter(source: str) -> Any:
    return metrics.MESSAGES_RECEIVED.labels(source=source)  # the labels() lookup, once per source


class StoreUnavailable(RuntimeError):
    """The message could not be committed; the sender should retry later."""


@dataclass(frozen=True)
class Incoming:
    raw: bytes
    tenant_id: int
    source: str = "smtp"
    envelope_from: str = ""
    envelope_to: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stored:
    id: int
    tenant_id: int
    blob_sha256: str
    summary: HeaderSummary


@dataclass
class _Pending:
    incoming: Incoming
    summary: HeaderSummary
    tags: list[str]
    started: float
    blob: PackedBlob
    future: asyncio.Future[Stored] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def normalise_tags(tags: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = db_text(" ".join(tag.split())[:MAX_TAG_LENGTH])
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _addresses(items: Sequence[Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in items]


def _address_text(items: Sequence[Address]) -> str:
    return " ".join(f"{a.name} {a.address}" for a in items)


class Ingestor:
    def __init__(
        self,
        engine: AsyncEngine,
        blob_store: BlobStore,
        hub: EventHub | None = None,
        *,
        max_batch: int = MAX_BATCH,
        on_commit: Callable[[], None] | None = None,
        writers: int = 1,
    ) -> None:
        self.engine = engine
        self.on_commit = on_commit
        self.blobs = blob_store
        self.hub = hub
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.writers = writers
        # PostgreSQL: blobs are written on a private thread while the rows are sent (the
        # loop's default executor can be busy with other work).
        self._blob_writer = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="blob-writer")
        self._writer_tasks: list[asyncio.Task[None]] = []
        self._wakes = WakeThrottle(hub, WAKE_INTERVAL_SECONDS) if hub is not None else None
        self._sqlite_path = sqlite_file(engine.url)
        # SQLite: one thread and one plain sqlite3 connection write every batch's rows.
        self._sqlite_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_lock = asyncio.Lock()
        self._pg: IngestConnections | None = None  # PostgreSQL: the group commit's own connections

    async def start(self) -> None:
        if not self._writer_tasks:
            self._writer_tasks = [
                asyncio.create_task(self._write_loop(), name=f"ingest-writer-{n}") for n in range(self.writers)
            ]

    async def stop(self) -> None:
        if self._writer_tasks:
            await self._queue.join()  # what was accepted gets committed
            for task in self._writer_tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._writer_tasks = []
        if self._wakes is not None:
            await self._wakes.flush()
        self._blob_writer.shutdown(wait=True)
        self._sqlite_writer.shutdown(wait=True)
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            await self._pg.close()
            self._pg = None

    async def ingest(self, incoming: Incoming) -> Stored:
        """Store one message durably; raises StoreUnavailable when the commit fails."""
        pending = self._prepare(incoming)
        if not self._writer_tasks:
            await self._write_batch([pending])
        else:
            self._queue.put_nowait(pending)
        return await pending.future

    async def ingest_many(self, items: Sequence[Incoming]) -> list[Stored]:
        """Store a batch in one transaction (bulk import)."""
        batch = [self._prepare(item) for item in items]
        await self._write_batch(batch)
        return [p.future.result() for p in batch]

    def _prepare(self, incoming: Incoming) -> _Pending:
        summary = parse_headers(incoming.raw)
        return _Pending(
            incoming=incoming,
            summary=summary,
            tags=normalise_tags([*summary.tags, *incoming.tags]),
            started=time.perf_counter(),
            # Hashed and compressed on arrival, while the commit in progress runs: in the
            # blob thread, under the event loop's GIL pressure, the same work took 3-4 times
            # as long and sat inside the commit cycle every waiting session waits for.
            blob=BlobStore.pack(incoming.raw),
        )

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write_batch(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            stored = await self._commit(batch)
        except Exception as exc:
            if len(batch) > 1:
                # One bad message must not fail the others that shared its commit.
                for pending in batch:
                    await self._write_batch([pending])
                return
            log.error("ingest_commit_failed", error=str(exc)[:500], source=batch[0].incoming.source)
            metrics.INGEST_FAILURES.inc()
            if not batch[0].future.done():
                batch[0].future.set_exception(StoreUnavailable(str(exc)[:500]))
            return
        now = time.perf_counter()
        for pending, result in zip(batch, stored, strict=True):
            metrics.INGEST_SECONDS.observe(now - pending.started)
            _received_counter(pending.incoming.source).inc()
            if not pending.future.done():
                pending.future.set_result(result)
        if self.on_commit is not None:
            self.on_commit()
        if self._wakes is not None:
            self._wakes.committed()

    async def _commit(self, batch: list[_Pending]) -> list[Stored]:
        planned = self.blobs.plan([p.blob for p in batch])
        if self._sqlite_path is not None:
            ids = await self._write_sqlite(batch, planned)
        else:
            written = asyncio.wrap_future(self._blob_writer.submit(planned.write))
            try:
                work = functools.partial(self._write_postgres, batch, planned.refs, written)
                ids = await self._postgres().run(work)
            finally:
                await asyncio.wait([written])  # never leave the write running, or its error unobserved
                if not written.cancelled():
                    written.exception()
        return [
            Stored(id=mid, tenant_id=p.incoming.tenant_id, blob_sha256=p.blob.digest, summary=p.summary)
            for mid, p in zip(ids, batch, strict=True)
        ]

    def _postgres(self) -> IngestConnections:
        if self._pg is None:
            self._pg = IngestConnections(self.engine, size=self.writers)
        return self._pg

    async def _write_postgres(
        self, batch: list[_Pending], refs: list[BlobRef], written: asyncio.Future[None], connection: Any
    ) -> list[int]:
        """The rows go in while the blobs go to disk; COMMIT waits for both."""
        target = bulk.PgBatch(connection)
        async with connection.transaction():
            ids = await self._write_rows(target, batch, refs)
            await target.flush()
            await written
        return ids

    async def _write_sqlite(self, batch: list[_Pending], planned: PlannedAppend) -> list[int]:
        # One thread owns a plain sqlite3 connection: two hand-offs per batch (the blobs and
        # BEGIN, then every statement + COMMIT) instead of one per statement. Writing the
        # blobs on that thread rather than a third one measured 5 % more messages a second.
        loop = asyncio.get_running_loop()
        async with self._sqlite_lock:  # the connection holds one transaction at a time
            writer = await loop.run_in_executor(self._sqlite_writer, self._begin, planned)
            try:
                ids = await self._write_rows(writer, batch, planned.refs)
            except BaseException:
                await loop.run_in_executor(self._sqlite_writer, writer.rollback)
                raise
            await loop.run_in_executor(self._sqlite_writer, writer.commit)
        return ids

    def _begin(self, planned: PlannedAppend) -> bulk.SqliteBatch:
        planned.write()  # durable before any row points at it
        connection = self._sqlite
        if connection is None:
            assert self._sqlite_path is not None
            connection = sqlite3.connect(self._sqlite_path, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                connection.execute(pragma)
            self._sqlite = connection
        elif connection.in_transaction:  # left open by a caller cancelled mid-commit
            connection.execute("ROLLBACK")
        return bulk.SqliteBatch.begin(connection, ["messages"])

    async def _write_rows(self, conn: bulk.Target, batch: list[_Pending], refs: list[BlobRef]) -> list[int]:
        received_at = utcnow()
        rows = [self._row(p, received_at) for p in batch]
        await blobs.record(conn, refs)
        ids = await bulk.insert_returning_ids(
            conn,
            "messages",
            MESSAGE_COLUMNS,
            [[row[c] for c in MESSAGE_COLUMNS] for row in rows],
            casts=MESSAGE_CASTS,
        )
        await bulk.insert_many(
            conn,
            "message_tags",
            ["message_id", "tag", "tenant_id"],
            [(mid, tag, p.incoming.tenant_id) for mid, p in zip(ids, batch, strict=True) for tag in p.tags],
        )
        await search.insert(conn, [self._search_row(mid, p) for mid, p in zip(ids, batch, strict=True)])
        arrived = Counter(p.incoming.tenant_id for p in batch)
        await counters.add(conn, {tenant: (n, n) for tenant, n in arrived.items()})
        await events.append(conn, [self._event(mid, row, p) for mid, row, p in zip(ids, rows, batch, strict=True)])
        return ids

    @staticmethod
    def _row(p: _Pending, received_at: Any) -> dict[str, Any]:
        s, inc = p.summary, p.incoming
        row = {
            "tenant_id": inc.tenant_id,
            "source": inc.source,
            "message_id": s.message_id[:998] if s.message_id else None,
            "subject": s.subject,
            "from_name": s.sender.name if s.sender else "",
            "from_address": (s.sender.address if s.sender else "")[:320],
            "to": _addresses(s.to),
            "cc": _addresses(s.cc),
            "bcc": _addresses(s.bcc),
            "reply_to": _addresses(s.reply_to),
            "envelope_from": inc.envelope_from[:320],
            "envelope_to": list(inc.envelope_to),
            "sent_at": s.date,
            "received_at": received_at,
            "size": len(inc.raw),
            "blob_sha256": p.blob.digest,
            "is_read": False,
            "has_attachments": False,
            "parse_state": int(ParseState.PENDING),
            "flags": sorted({*s.flags, *inc.flags}),
            "snippet": "",
        }
        return {key: db_json(value) for key, value in row.items()}

    @staticmethod
    def _search_row(message_id: int, p: _Pending) -> search.SearchRow:
        s, inc = p.summary, p.incoming
        sender = f"{s.sender.name} {s.sender.address}" if s.sender else ""
        recipients = " ".join(
            (_address_text(s.to), _address_text(s.cc), _address_text(s.bcc), " ".join(inc.envelope_to))
        )
        return search.SearchRow(
            message_id=message_id,
            tenant_id=inc.tenant_id,
            subject=db_text(s.subject),
            sender=db_text(f"{sender} {inc.envelope_from}"),
            recipients=db_text(recipients),
        )

    @staticmethod
    def _event(message_id: int, row: dict[str, Any], p: _Pending) -> NewEvent:
        return NewEvent(
            tenant_id=p.incoming.tenant_id,
            type="message.received",
            subject_id=message_id,
            payload={
                "id": message_id,
                "subject": row["subject"],
                "from": {"name": row["from_name"], "address": row["from_address"]},
                "to": row["to"],
                "size": row["size"],
                "tags": p.tags,
                "received_at": row["received_at"].isoformat(),
                "source": row["source"],
            },
        )
