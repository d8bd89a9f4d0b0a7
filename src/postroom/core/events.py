"""The event log and its live fan-out.

Events are rows written in the same transaction as the change they describe (an
outbox). Live consumers read them by cursor; the hub only wakes them up. It wakes on
a local publish, on a Redis message from another process when ``REDIS_URL`` is set,
and otherwise every ``poll_seconds``, so a consumer in another process still sees
every event without Redis, only later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.core.horizon import CommitHorizon
from postroom.core.models import Event
from postroom.core.waits import wait_set
from postroom.store import bulk
from postroom.store.types import utcnow

log = structlog.get_logger(__name__)

REDIS_CHANNEL = "postroom:events"


@dataclass(frozen=True)
class NewEvent:
    tenant_id: int
    type: str
    subject_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class EventRecord:
    id: int
    tenant_id: int
    type: str
    subject_id: int | None
    payload: dict[str, Any]
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "subject_id": self.subject_id,
            "data": self.payload,
            "created_at": self.created_at.isoformat(),
        }


async def append(conn: bulk.Target, events: Sequence[NewEvent]) -> None:
    if not events:
        return
    now = utcnow()
    await bulk.insert_many(
        conn,
        "events",
        ["tenant_id", "type", "subject_id", "payload", "created_at"],
        [(e.tenant_id, e.type, e.subject_id, e.payload, now) for e in events],
        casts=["", "", "", "jsonb", ""],
    )


async def read_after(
    conn: AsyncConnection, tenant_id: int, after_id: int, limit: int = 500, *, upto: int | None = None
) -> list[EventRecord]:
    """The tenant's events after ``after_id``; ``upto`` stops at a commit horizon (see core.horizon)."""
    where = [Event.tenant_id == tenant_id, Event.id > after_id]
    if upto is not None:
        where.append(Event.id <= upto)
    rows = await conn.execute(select(Event).where(*where).order_by(Event.id).limit(limit))
    return [EventRecord(r.id, r.tenant_id, r.type, r.subject_id, r.payload, r.created_at) for r in rows]


async def last_id(conn: AsyncConnection, tenant_id: int) -> int:
    value = await conn.scalar(select(func.max(Event.id)).where(Event.tenant_id == tenant_id))
    return int(value or 0)


class WakeThrottle:
    """Wakes the hub's readers at most every ``interval`` seconds during a burst of commits.

    Each wake costs every reader (live push, webhook dispatcher, bounce collector) a query;
    the first commit after a quiet spell still wakes them at once.
    """

    def __init__(self, hub: EventHub, interval: float) -> None:
        self.hub = hub
        self.interval = interval
        self._last = -interval
        self._later: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    def committed(self) -> None:
        if self._later is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last + self.interval - loop.time()
        if delay <= 0:
            self._wake()
        else:
            self._later = loop.call_later(delay, self._wake)

    def _wake(self) -> None:
        # In the background: publishing to Redis may be slow.
        self._later = None
        self._last = asyncio.get_running_loop().time()
        task = asyncio.create_task(self.hub.published())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def flush(self) -> None:
        """Deliver a pending wake now and wait for the wakes in flight (at shutdown)."""
        if self._later is not None:
            self._later.cancel()
            self._wake()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


class EventHub:
    """Wakes live readers when events may have been written."""

    def __init__(self, engine: AsyncEngine, *, redis_url: str = "", poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.redis_url = redis_url
        self.poll_seconds = poll_seconds
        self._woken = asyncio.Event()  # set at the next wake, then replaced by a fresh one
        self._generation = 0  # lets a reader notice a wake that came while it was reading
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        # Shared by the polling readers (GET /api/v1/events), so a gap left by a rolled-back
        # transaction is passed over once it has been open long enough, whoever asks.
        self.horizon = CommitHorizon()

    async def start(self) -> None:
        if not self.redis_url:
            return
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self.redis_url)
        self._listener = asyncio.create_task(self._listen(), name="event-hub-redis")

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()

    async def published(self) -> None:
        """Call after committing events: wakes local readers and other processes."""
        await self._wake()
        if self._redis is not None:
            try:
                await self._redis.publish(REDIS_CHANNEL, b"1")
            except Exception as exc:  # live push is best effort; readers still poll the log
                log.warning("event_publish_failed", error=str(exc))

    async def _wake(self) -> None:
        self._generation += 1
        woken, self._woken = self._woken, asyncio.Event()
        woken.set()

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(REDIS_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event_listener_error", error=str(exc))
                await asyncio.sleep(1)

    @property
    def generation(self) -> int:
        return self._generation

    async def wait(self, seen_generation: int) -> None:
        """Return on the next wake after ``seen_generation``, or after the poll interval."""
        if self._generation == seen_generation:
            await wait_set(self._woken, self.poll_seconds)

    async def stream(
        self, tenant_id: int, after_id: int | None = None, types: set[str] | None = None
    ) -> AsyncIterator[EventRecord]:
        """Every event of the tenant after ``after_id`` (default: from now on), forever, in id order.

        It never passes an id still being committed (PostgreSQL can show id 11 before 10).
        """
        horizon = CommitHorizon()
        async with self.engine.connect() as conn:
            cursor = after_id if after_id is not None else await last_id(conn, tenant_id)
        while True:
            generation = self._generation
            async with self.engine.connect() as conn:
                safe, _ = await horizon.safe_upto(conn, cursor)
                batch = await read_after(conn, tenant_id, cursor, upto=safe)
            for record in batch:
                cursor = record.id
                if types is None or record.type in types:
                    yield record
            if not batch:
                await self.wait(generation)
