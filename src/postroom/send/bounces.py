"""Bounces that come back by SMTP: delivery status notifications turned into bounce events.

Sent mail carries a VERP return path, ``bounces+<delivery id>@domain``, so a DSN is
addressed to the delivery it is about. The collector follows ``message.received`` in
the event log (by a stored cursor, so nothing is missed while it is down; a first start
begins at the newest event instead of reading the whole log), reads the
DSNs among them (RFC 3464, or the common plain-text formats), and feeds each failed
or delayed recipient to the feedback service. The DSN itself stays in the inbox,
tagged ``bounce``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.core.events import EventHub
from postroom.core.horizon import CommitHorizon
from postroom.core.messages import MessageService
from postroom.core.models import Event
from postroom.mime.dsn import BounceReport, parse_bounce
from postroom.send.feedback import Feedback, FeedbackService
from postroom.send.models import Cursor
from postroom.store.types import upsert_insert

log = structlog.get_logger(__name__)

CURSOR = "bounces"
VERP = re.compile(r"^bounces\+(\d+)@", re.IGNORECASE)
OUR_MESSAGE_ID = re.compile(r"^<?(\d+)\.[0-9a-f]{12}@")
BATCH = 500
DSN_SUBJECT_WORDS = ("undeliver", "delivery status", "returned mail", "failure notice")
# Without a DSN among them, the cursor is saved at most this often: one write transaction
# per event-hub wake cost the SQLite group commit its lock and an fsync every 50 ms. After
# a crash the events since are read again, which finds nothing new.
CURSOR_SAVE_SECONDS = 5.0
PASS_SECONDS = 0.5  # at most two passes a second


def _may_be_dsn() -> ColumnElement[bool]:
    """A superset of the events ``_consider`` looks at, tested on the payload's JSON text
    in the database: no payload of ordinary mail is fetched and decoded."""
    text = func.lower(cast(Event.payload, Text))
    return or_(*(text.like(f"%{word}%") for word in ("bounces+", *DSN_SUBJECT_WORDS)))


def delivery_from_verp(addresses: list[str]) -> int | None:
    for address in addresses:
        match = VERP.match(address)
        if match:
            return int(match.group(1))
    return None


def feedback_from(report: BounceReport, delivery_id: int | None, message_id: int) -> list[Feedback]:
    """One feedback per failed or delayed recipient of the report (captured as ``message_id``)."""
    if delivery_id is None and report.original_message_id:
        match = OUR_MESSAGE_ID.match(report.original_message_id)
        delivery_id = int(match.group(1)) if match else None
    found = []
    for status in report.recipients:
        if status.action not in ("failed", "delayed"):
            continue
        found.append(
            Feedback(
                type="bounced" if status.action == "failed" else "deferred",
                source="dsn",
                delivery_id=delivery_id,
                recipient=status.recipient,
                bounce_kind="soft" if status.action == "delayed" or status.kind == "soft" else "hard",
                diagnostic=" ".join(part for part in (status.status, status.diagnostic_code) if part) or None,
                # Every worker process runs a collector, and one reads again what it had read
                # after a crash: the receipt of this id lets only the first apply it.
                event_id=f"{message_id}:{status.action}:{status.recipient}",
            )
        )
    return found


class BounceCollector:
    def __init__(
        self,
        engine: AsyncEngine,
        hub: EventHub,
        messages: MessageService,
        feedback: FeedbackService,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.messages = messages
        self.feedback = feedback
        self.poll_seconds = poll_seconds
        self.horizon = CommitHorizon()
        self._task: asyncio.Task[None] | None = None
        self._position: int | None = None  # read up to here; saved as of _saved_at
        self._saved = 0
        self._saved_at = 0.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bounce-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._position is not None and self._position != self._saved:
            async with self.engine.begin() as conn:
                await self._save(conn, self._position)

    async def _run(self) -> None:
        while True:
            generation = self.hub.generation
            started = time.monotonic()
            try:
                more = await self.run_once()
            except Exception as exc:
                log.warning("bounce_collector_failed", error=str(exc))
                more = False
                await asyncio.sleep(self.poll_seconds)
            if not more:
                await self.hub.wait(generation)
                # During a burst of mail, commits wake the hub 20 times a second; a bounce can
                # wait half a second, the SMTP sessions sharing the process's CPU cannot.
                await asyncio.sleep(max(0.0, started + PASS_SECONDS - time.monotonic()))

    async def _cursor(self) -> int:
        """Where reading resumes; the first run starts (and stays) at the newest event rather than
        reading the whole log: bounces only answer mail sent since sending existed."""
        if self._position is not None:
            return self._position
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(Cursor.position).where(Cursor.name == CURSOR))
        if found is None:
            async with self.engine.begin() as conn:
                found = int(await conn.scalar(select(func.max(Event.id))) or 0)
                await self._save(conn, found)
        self._position = self._saved = int(found)
        self._saved_at = time.monotonic()
        return self._position

    @staticmethod
    async def _save(conn: AsyncConnection, position: int) -> None:
        statement = upsert_insert(conn.dialect.name, Cursor).values(name=CURSOR, position=position)
        await conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"position": position}))

    async def run_once(self) -> bool:
        """Read the next events; True when more are waiting."""
        cursor = await self._cursor()
        async with self.engine.connect() as conn:
            safe, _ = await self.horizon.safe_upto(conn, cursor)
            rows = list(
                await conn.execute(
                    select(Event.id, Event.tenant_id, Event.subject_id, Event.payload)
                    .where(Event.id > cursor, Event.id <= safe, Event.type == "message.received", _may_be_dsn())
                    .order_by(Event.id)
                    .limit(BATCH)
                )
            )
        last = rows[-1][0] if len(rows) == BATCH else safe
        for _event_id, tenant_id, message_id, payload in rows:
            await self._consider(tenant_id, message_id, payload)
        self._position = last
        if last != self._saved and (rows or time.monotonic() - self._saved_at >= CURSOR_SAVE_SECONDS):
            async with self.engine.begin() as conn:
                await self._save(conn, last)
            self._saved, self._saved_at = last, time.monotonic()
        return len(rows) == BATCH

    async def _consider(self, tenant_id: int, message_id: int | None, payload: dict[str, Any]) -> None:
        recipients = [str(a.get("address", "")) for a in payload.get("to") or [] if isinstance(a, dict)]
        delivery_id = delivery_from_verp(recipients)
        subject = str(payload.get("subject") or "").lower()
        looks_like_dsn = delivery_id is not None or any(word in subject for word in DSN_SUBJECT_WORDS)
        if message_id is None or not looks_like_dsn:
            return
        raw = await self.messages.raw(tenant_id, message_id)
        report = await asyncio.to_thread(parse_bounce, raw)
        if report is None:
            return
        items = feedback_from(report, delivery_id, message_id)
        if not items:
            return
        # Tagged first: whoever sees the delivery bounced finds the DSN under tag:bounce too.
        await self.messages.update(tenant_id, message_id, add_tags=["bounce"])
        applied = await self.feedback.apply(items)
        log.info("dsn_bounce", message_id=message_id, matched=applied.matched, unmatched=applied.unmatched)
