"""The full MIME parse that follows ingest: bodies, attachments, the body search row.

A sweeper parses pending messages in batches moments after they arrive; a read that
comes first calls ``ensure_parsed`` and parses on demand. Both write the same rows
idempotently, so whichever runs second changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.core import metrics
from postroom.mime import ParsedMessage, parse_message
from postroom.store import search
from postroom.store.blobs import BlobNotFound, BlobStore
from postroom.store.models import Message, MessageBody, ParseState
from postroom.store.types import db_json, db_text

log = structlog.get_logger(__name__)

SWEEP_BATCH = 50


def _parse_blobs(blobs: BlobStore, digests: Sequence[str]) -> list[ParsedMessage | None]:
    results: list[ParsedMessage | None] = []
    for digest in digests:
        try:
            results.append(parse_message(blobs.get(digest)))
        except BlobNotFound:
            results.append(None)
    return results


def attachment_json(parsed: ParsedMessage) -> list[dict[str, Any]]:
    return [asdict(part) for part in parsed.attachments]


async def _store(conn: AsyncConnection, message: Any, parsed: ParsedMessage | None) -> None:
    if parsed is None:
        await conn.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(parse_state=ParseState.FAILED, flags=sorted({*message.flags, "blob-missing"}))
        )
        return
    body = db_json(
        {
            "message_id": message.id,
            "tenant_id": message.tenant_id,
            "text": parsed.text,
            "html": parsed.html,
            "headers": [list(h) for h in parsed.headers],
            "attachments": attachment_json(parsed),
        }
    )
    insert_fn = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    statement = insert_fn(MessageBody).values(body)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["message_id"],
            set_={k: statement.excluded[k] for k in ("text", "html", "headers", "attachments")},
        )
    )
    failed = "parse-error" in parsed.flags
    await conn.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(
            parse_state=ParseState.FAILED if failed else ParseState.PARSED,
            has_attachments=any(not part.is_inline for part in parsed.attachments),
            flags=sorted({*message.flags, *parsed.flags}),
            snippet=db_text(parsed.snippet),
        )
    )
    await search.replace(
        conn,
        search.SearchRow(
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
            body=body["text"],
        ),
    )
    metrics.PARSED_MESSAGES.labels(outcome="failed" if failed else "parsed").inc()


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


async def parse_pending(engine: AsyncEngine, blobs: BlobStore, where: Any, limit: int) -> int:
    """Parse up to ``limit`` pending messages matching ``where``; returns how many."""
    locking = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        query = (
            select(*_COLUMNS).where(Message.parse_state == ParseState.PENDING, where).order_by(Message.id).limit(limit)
        )
        if locking:
            query = query.with_for_update(skip_locked=True)
        rows = list(await conn.execute(query))
        if not rows:
            return 0
        if locking:
            # Row locks keep other workers off these messages while we parse them.
            parsed = await asyncio.to_thread(_parse_blobs, blobs, [r.blob_sha256 for r in rows])
            for row, result in zip(rows, parsed, strict=True):
                await _store(conn, row, result)
            return len(rows)
    # SQLite has one writer: parse outside the transaction, then write briefly.
    parsed = await asyncio.to_thread(_parse_blobs, blobs, [r.blob_sha256 for r in rows])
    async with engine.begin() as conn:
        for row, result in zip(rows, parsed, strict=True):
            still_pending = await conn.scalar(select(Message.parse_state).where(Message.id == row.id))
            if still_pending == ParseState.PENDING:
                await _store(conn, row, result)
    return len(rows)


async def ensure_parsed(engine: AsyncEngine, blobs: BlobStore, tenant_id: int, ids: Sequence[int]) -> None:
    if ids:
        await parse_pending(engine, blobs, (Message.tenant_id == tenant_id) & Message.id.in_(ids), len(ids))


async def ensure_tenant_parsed(engine: AsyncEngine, blobs: BlobStore, tenant_id: int, limit: int = 500) -> None:
    """Before a body or attachment search: catch up on what the sweeper has not reached."""
    await parse_pending(engine, blobs, Message.tenant_id == tenant_id, limit)


class ParseSweeper:
    def __init__(self, engine: AsyncEngine, blobs: BlobStore, *, idle_seconds: float = 1.0) -> None:
        self.engine = engine
        self.blobs = blobs
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parse-sweeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                done = await parse_pending(self.engine, self.blobs, Message.id > 0, SWEEP_BATCH)
            except Exception as exc:
                log.warning("parse_sweep_failed", error=str(exc))
                done = 0
            if done < SWEEP_BATCH:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
