"""What happened after hand-over: provider webhooks, DSN bounces, opens, clicks, unsubscribes.

Each piece of feedback names a delivery (our reference, or the provider's message id)
and moves it on: ``delivered`` after ``sent``; ``bounced`` and ``complained`` as final
states that also suppress the address (hard bounces, complaints); ``unsubscribed``
suppresses; ``opened``, ``clicked``, ``deferred`` and ``sent`` only add to the timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.core.events import EventHub, NewEvent
from postroom.send import events as send_events
from postroom.send import suppression
from postroom.send.events import DeliveryRef
from postroom.send.models import Delivery, DeliveryStatus, ProviderReceipt
from postroom.store.types import upsert_insert, utcnow

# A status may move to the new one only from these (a late "delivered" never undoes a bounce).
MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "delivered": (DeliveryStatus.DELIVERED, (DeliveryStatus.SENT, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)),
    "bounced": (
        DeliveryStatus.BOUNCED,
        (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED),
    ),
    "complained": (DeliveryStatus.COMPLAINED, (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)),
    "failed": (DeliveryStatus.FAILED, (DeliveryStatus.SENT, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)),
}
SUPPRESS_FOR = {"complained": "complaint", "unsubscribed": "unsubscribe"}


@dataclass(frozen=True)
class Feedback:
    type: str  # sent, delivered, deferred, bounced, complained, opened, clicked, unsubscribed, failed
    source: str  # ses, sendgrid, mailgun, mailersend, dsn, tracking, unsubscribe
    delivery_id: int | None = None
    provider_message_id: str | None = None
    recipient: str | None = None
    bounce_kind: str | None = None  # hard or soft
    diagnostic: str | None = None
    url: str | None = None
    event_id: str | None = None  # the provider's id, to refuse a replay


@dataclass(frozen=True)
class Applied:
    matched: int
    unmatched: int
    replayed: int


def reference_id(reference: str | None) -> int | None:
    if reference and reference.isdigit():
        return int(reference)
    return None


class FeedbackService:
    def __init__(self, engine: AsyncEngine, hub: EventHub) -> None:
        self.engine = engine
        self.hub = hub

    async def _first_time(self, conn: AsyncConnection, source: str, event_id: str) -> bool:
        statement = (
            upsert_insert(conn.dialect.name, ProviderReceipt)
            .values(provider=source, event_id=event_id[:255], created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(ProviderReceipt.id)
        )
        return (await conn.scalar(statement)) is not None

    async def _find(self, conn: AsyncConnection, item: Feedback) -> Any:
        if item.delivery_id is not None:
            row = (await conn.execute(select(Delivery).where(Delivery.id == item.delivery_id))).first()
            if row is not None:
                return row
        if item.provider_message_id:
            candidates = [item.provider_message_id, item.provider_message_id.strip("<>")]
            query = select(Delivery).where(Delivery.provider_message_id.in_(candidates))
            if item.recipient:
                query = query.where(or_(Delivery.address == item.recipient, Delivery.address == item.recipient.lower()))
            return (await conn.execute(query.limit(1))).first()
        return None

    async def apply(self, items: Sequence[Feedback]) -> Applied:
        matched = unmatched = replayed = 0
        new_events: list[NewEvent] = []
        async with self.engine.begin() as conn:
            for item in items:
                if item.event_id and not await self._first_time(conn, item.source, item.event_id):
                    replayed += 1
                    continue
                delivery = await self._find(conn, item)
                if delivery is None:
                    unmatched += 1
                    continue
                matched += 1
                new_events.append(await self._apply_one(conn, delivery, item))
            await send_events.record(conn, new_events)
        if new_events:
            await self.hub.published()
        return Applied(matched, unmatched, replayed)

    async def _apply_one(self, conn: AsyncConnection, delivery: Any, item: Feedback) -> NewEvent:
        ref = DeliveryRef(delivery.tenant_id, delivery.id, delivery.email_id, delivery.address)
        move = MOVES.get(item.type)
        if item.type == "bounced" and item.bounce_kind == "soft":
            move = None  # the provider keeps trying; only the timeline learns of it
        if move is not None:
            status, allowed_from = move
            now = utcnow()
            await conn.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id, Delivery.status.in_(allowed_from))
                .values(status=status, updated_at=now, finished_at=now, locked_by=None)
            )
        reason = SUPPRESS_FOR.get(item.type)
        if item.type == "bounced" and item.bounce_kind != "soft":
            reason = "hard_bounce"
        if reason is not None:
            await suppression.add(conn, delivery.tenant_id, delivery.address, reason, item.diagnostic or item.source)
        detail: dict[str, Any] = {"source": item.source}
        if item.bounce_kind:
            detail["bounce_type"] = item.bounce_kind
        if item.diagnostic:
            detail["response"] = item.diagnostic
        if item.url:
            detail["url"] = item.url
        if reason is not None:
            detail["suppressed"] = True
        return send_events.event(ref, f"email.{item.type}", **detail)
