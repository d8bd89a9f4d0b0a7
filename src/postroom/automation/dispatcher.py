"""Turns new events into delivery jobs, one per (enabled endpoint, matching event).

Each endpoint keeps a cursor: the id of the last event of its tenant already handed
to the job queue. The jobs and the moved cursor commit in one transaction, so an
outage loses nothing (the next run starts at the cursor) and a crash enqueues
nothing twice; the idempotency key ``webhook:<endpoint>:<event>`` also keeps two
dispatchers in different processes from doubling a job. Reads stop at the commit
horizon (see ``horizon``) so an event that commits late is not skipped. Delivery itself is
at-least-once: a receiver may see an event again (same ``webhook-id``) when a
worker dies after the POST and before it records the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.automation.deliveries import DeliveryRequest, enqueue_delivery, type_matches
from postroom.automation.models import WebhookEndpoint
from postroom.core.events import EventHub
from postroom.core.horizon import CommitHorizon
from postroom.core.models import Event

__all__ = ["WebhookDispatcher"]

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
ERROR_PAUSE_SECONDS = 1.0


class WebhookDispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        hub: EventHub,
        *,
        max_attempts: int,
        on_enqueue: Callable[[], None] | None = None,
        batch_size: int = BATCH_SIZE,
        horizon: CommitHorizon | None = None,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.max_attempts = max_attempts
        self.on_enqueue = on_enqueue
        self.batch_size = batch_size
        self.horizon = horizon or CommitHorizon()
        self._task: asyncio.Task[None] | None = None
        self._pass: asyncio.Future[int] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Stop waiting for events; a pass that is running finishes its transactions first."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pass is not None and not self._pass.done():
            with contextlib.suppress(Exception):
                await self._pass

    async def run_once(self) -> int:
        """Bring every enabled endpoint up to the newest committed event; returns how many jobs were queued."""
        queued = 0
        more = True
        while more:
            async with self.engine.connect() as conn:
                endpoints = list(
                    await conn.execute(
                        select(WebhookEndpoint.id, WebhookEndpoint.event_cursor)
                        .where(WebhookEndpoint.enabled.is_(True))
                        .order_by(WebhookEndpoint.id)
                    )
                )
                if not endpoints:
                    break
                horizon, more = await self.horizon.safe_upto(conn, min(cursor for _, cursor in endpoints))
            for endpoint_id, _ in endpoints:
                while True:
                    full, enqueued = await self._advance(endpoint_id, horizon)
                    queued += enqueued
                    if not full:
                        break
        if queued and self.on_enqueue is not None:
            self.on_enqueue()
        return queued

    async def _advance(self, endpoint_id: int, horizon: int) -> tuple[bool, int]:
        """One batch for one endpoint, up to ``horizon``: (whether the batch was full, jobs queued)."""
        async with self.engine.begin() as conn:
            query = select(WebhookEndpoint.tenant_id, WebhookEndpoint.event_types, WebhookEndpoint.event_cursor).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True)
            )
            if conn.dialect.name == "postgresql":
                # Another process is on this endpoint right now: leave it to that one.
                query = query.with_for_update(skip_locked=True)
            row = (await conn.execute(query)).first()
            if row is None:
                return False, 0
            tenant_id, event_types, cursor = row
            batch = list(
                await conn.execute(
                    select(Event.id, Event.type)
                    .where(Event.tenant_id == tenant_id, Event.id > cursor, Event.id <= horizon)
                    .order_by(Event.id)
                    .limit(self.batch_size)
                )
            )
            enqueued = 0
            for event_id, event_type in batch:
                if not type_matches(event_types, event_type):
                    continue
                await enqueue_delivery(
                    conn,
                    tenant_id,
                    DeliveryRequest.for_event(endpoint_id, event_id),
                    max_attempts=self.max_attempts,
                    idempotency_key=f"webhook:{endpoint_id}:{event_id}",
                )
                enqueued += 1
            full = len(batch) == self.batch_size
            # A batch that is not full has seen every event of the tenant up to the horizon.
            new_cursor = batch[-1][0] if full else horizon
            if new_cursor > cursor:
                await conn.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.event_cursor < new_cursor)
                    .values(event_cursor=new_cursor)
                )
        return full, enqueued

    async def _run(self) -> None:
        while True:
            generation = self.hub.generation
            self._pass = asyncio.ensure_future(self.run_once())
            try:
                await asyncio.shield(self._pass)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook_dispatch_failed", error=str(exc))
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
                continue
            await self.hub.wait(generation)
