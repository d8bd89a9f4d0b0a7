"""The full MIME parse that follows ingest: bodies, attachments, the body search row.

A sweeper parses pending messages in batches moments after they arrive; a read that
comes first calls ``ensure_parsed`` and parses on demand. Both write the same rows
idempotently, so whichever runs second changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.core import metrics
from postroom.core.waits import wait_set
from postroom.mime import ParsedMessage, parse_message
from postroom.store import blobs as blob_index
from postroom.store import bulk, search
from postroom.store.blobs import BlobNotFound, BlobRef, BlobStore
from postroom.store.models import Message, ParseState
from postroom.store.types import db_json, db_text

log = structlog.get_logger(__name__)

SWEEP_BATCH = 200
BUSY_BATCH = 10
QUIET_SECONDS = 0.2  # while mail is arriving, leave the CPU to ingest...
MAX_DEFER_SECONDS = 3.0  # ...but never leave the backlog untouched for longer than this
# The parse thread holds the GIL while SMTP sessions wait on the event loop: it lets go at
# least this often. Yielding after every message halved the time-to-250 of mail arriving
# during a sweep but cost the sweep 17 % of its rate; every 2 ms keeps most of both.
YIELD_SECONDS = 0.002


def _parse_blobs(store: BlobStore, refs: Sequence[BlobRef | None]) -> list[ParsedMessage | None]:
    results: list[ParsedMessage | None] = []
    slice_start = time.perf_counter()
    for ref in refs:
        if time.perf_counter() - slice_start >= YIELD_SECONDS:
            time.sleep(0)  # a waiting event loop gets the GIL now, not after a 5 ms switch interval
            slice_start = time.perf_counter()
        try:
            results.append(parse_message(store.read(ref)) if ref else None)
        except BlobNotFound:
            results.append(None)
    return results


async def _parse_rows(conn: AsyncConnection, store: BlobStore, rows: Sequence[Any]) -> list[ParsedMessage | None]:
    where = await blob_index.locate(conn, [r.blob_sha256 for r in rows])
    results = await asyncio.to_thread(_parse_blobs, store, [where.get(r.blob_sha256) for r in rows])
    # Compaction may have moved a blob between the locate and the read: locate those once more.
    missed = [i for i, r in enumerate(results) if r is None and rows[i].blob_sha256 in where]
    if missed:
        moved = await blob_index.locate(conn, [rows[i].blob_sha256 for i in missed])
        again = await asyncio.to_thread(_parse_blobs, store, [moved.get(rows[i].blob_sha256) for i in missed])
        for i, result in zip(missed, again, strict=True):
            results[i] = result
    return results


def attachment_json(parsed: ParsedMessage) -> list[dict[str, Any]]:
    return [asdict(part) for part in parsed.attachments]


BODY_COLUMNS = ["message_id", "tenant_id", "text", "html", "headers", "attachments"]
BODY_CASTS = ["", "", "", "", "jsonb", "jsonb"]
BODY_UPSERT = (
    'ON CONFLICT (message_id) DO UPDATE SET "text" = excluded."text", "html" = excluded."html", '
    '"headers" = excluded."headers", "attachments" = excluded."attachments"'
)
PARSED_COLUMNS = ["parse_state", "has_attachments", "flags", "snippet"]
PARSED_CASTS = ["", "", "jsonb", ""]
MISSING_COLUMNS = ["parse_state", "flags"]
MISSING_CASTS = ["", "jsonb"]


def _search_row(message: Any, text: str) -> search.SearchRow:
    return search.SearchRow(
        message_id=message.id,
        tenant_id=message.tenant_id,
        subject=message.subject,
        sender=f"{message.from_name} {message.from_address} {message.envelope_from}",
        recipients=" ".join(
            [
                *(f"{a['name']} {a['address']}" for a in [*message.to, *message.cc, *message.bcc]),
                *message.envelope_to,
            ]
        ),
        body=text,
    )


async def _store(conn: AsyncConnection, messages: Sequence[Any], results: Sequence[ParsedMessage | None]) -> None:
    """Write what the parse found for a batch: a few multi-row statements, whatever its size."""
    bodies: list[tuple[Any, ...]] = []
    parsed_rows: list[tuple[Any, ...]] = []
    missing_rows: list[tuple[Any, ...]] = []
    search_rows: list[search.SearchRow] = []
    outcomes: Counter[str] = Counter()
    for message, parsed in zip(messages, results, strict=True):
        if parsed is None:
            missing_rows.append((int(ParseState.FAILED), sorted({*message.flags, "blob-missing"}), message.id))
            continue
        body = db_json(
            {
                "text": parsed.text,
                "html": parsed.html,
                "headers": [list(h) for h in parsed.headers],
                "attachments": attachment_json(parsed),
            }
        )
        bodies.append((message.id, message.tenant_id, body["text"], body["html"], body["headers"], body["attachments"]))
        failed = "parse-error" in parsed.flags
        parsed_rows.append(
            (
                int(ParseState.FAILED if failed else ParseState.PARSED),
                any(not part.is_inline for part in parsed.attachments),
                sorted({*message.flags, *parsed.flags}),
                db_text(parsed.snippet),
                message.id,
            )
        )
        search_rows.append(_search_row(message, body["text"]))
        outcomes["failed" if failed else "parsed"] += 1
    await bulk.insert_many(conn, "message_bodies", BODY_COLUMNS, bodies, casts=BODY_CASTS, on_conflict=BODY_UPSERT)
    await bulk.update_many(conn, "messages", PARSED_COLUMNS, "id", parsed_rows, casts=PARSED_CASTS)
    await bulk.update_many(conn, "messages", MISSING_COLUMNS, "id", missing_rows, casts=MISSING_CASTS)
    if conn.dialect.name == "sqlite":  # PostgreSQL's insert replaces the row itself
        await bulk.delete_many(conn, "message_search", "rowid", [row.message_id for row in search_rows])
    await search.insert(conn, search_rows)
    for outcome, count in outcomes.items():
        metrics.PARSED_MESSAGES.labels(outcome=outcome).inc(count)


_COLUMNS = (
    Message.id,
    Message.tenant_id,
    Message.blob_sha256,
    Message.flags,
    Message.subject,
    Message.from_name,
    Message.from_address,
    Message.envelope_from,
    Message.to,
    Message.cc,
    Message.bcc,
    Message.envelope_to,
)


async def parse_pending(engine: AsyncEngine, blobs: BlobStore, where: Any, limit: int, *, wait: bool = False) -> int:
    """Parse up to ``limit`` pending messages matching ``where``; returns how many.

    On PostgreSQL, messages another worker is parsing are skipped, or with ``wait`` (a
    reader that needs them parsed) waited for: their rows are parsed once that worker
    commits, so they no longer match."""
    locking = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        query = (
            select(*_COLUMNS).where(Message.parse_state == ParseState.PENDING, where).order_by(Message.id).limit(limit)
        )
        if locking:
            query = query.with_for_update(skip_locked=not wait)
        rows = list(await conn.execute(query))
        if not rows:
            return 0
        if locking:
            # Row locks keep other workers off these messages while we parse them.
            await _store(conn, rows, await _parse_rows(conn, blobs, rows))
            return len(rows)
    # SQLite has one writer: parse outside the transaction, then write briefly.
    async with engine.connect() as conn:
        parsed = await _parse_rows(conn, blobs, rows)
    async with engine.begin() as conn:
        pending = set(
            await conn.scalars(
                select(Message.id).where(
                    Message.id.in_([row.id for row in rows]), Message.parse_state == ParseState.PENDING
                )
            )
        )
        kept = [(row, result) for row, result in zip(rows, parsed, strict=True) if row.id in pending]
        await _store(conn, [row for row, _ in kept], [result for _, result in kept])
    return len(rows)


async def ensure_parsed(engine: AsyncEngine, blobs: BlobStore, tenant_id: int, ids: Sequence[int]) -> None:
    if ids:
        where = (Message.tenant_id == tenant_id) & Message.id.in_(ids)
        await parse_pending(engine, blobs, where, len(ids), wait=True)


async def ensure_tenant_parsed(engine: AsyncEngine, blobs: BlobStore, tenant_id: int, limit: int = 500) -> None:
    """Before a body or attachment search: catch up on what the sweeper has not reached."""
    await parse_pending(engine, blobs, Message.tenant_id == tenant_id, limit, wait=True)


class ParseSweeper:
    """Parses the backlog in batches; during a burst of mail it mostly waits, then catches up."""

    def __init__(self, engine: AsyncEngine, blobs: BlobStore, *, idle_seconds: float = 1.0) -> None:
        self.engine = engine
        self.blobs = blobs
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_arrival = 0.0

    def notify(self) -> None:
        """New mail was committed."""
        self._last_arrival = time.monotonic()
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parse-sweeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        last_sweep = time.monotonic()
        while True:
            busy = time.monotonic() - self._last_arrival < QUIET_SECONDS
            if busy and time.monotonic() - last_sweep < MAX_DEFER_SECONDS:
                await asyncio.sleep(QUIET_SECONDS)
                continue
            batch = BUSY_BATCH if busy else SWEEP_BATCH
            try:
                done = await parse_pending(self.engine, self.blobs, Message.id > 0, batch)
            except Exception as exc:
                log.warning("parse_sweep_failed", error=str(exc))
                done = 0
            last_sweep = time.monotonic()
            if done < batch:
                self._wake.clear()
                await wait_set(self._wake, self.idle_seconds)
