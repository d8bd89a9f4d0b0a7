"""The delivery timeline: ``email.*`` rows in the shared event log, one per step of a delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.core import events
from postroom.core.events import NewEvent
from postroom.core.models import Event
from postroom.store import bulk

ACCEPTED = "email.accepted"
QUEUED = "email.queued"
SENT = "email.sent"
DELIVERED = "email.delivered"
DEFERRED = "email.deferred"
BOUNCED = "email.bounced"
COMPLAINED = "email.complained"
OPENED = "email.opened"
CLICKED = "email.clicked"
UNSUBSCRIBED = "email.unsubscribed"
FAILED = "email.failed"
SUPPRESSED = "email.suppressed"
CANCELLED = "email.cancelled"

TYPES = (
    ACCEPTED,
    QUEUED,
    SENT,
    DELIVERED,
    DEFERRED,
    BOUNCED,
    COMPLAINED,
    OPENED,
    CLICKED,
    UNSUBSCRIBED,
    FAILED,
    SUPPRESSED,
    CANCELLED,
)


@dataclass(frozen=True)
class DeliveryRef:
    tenant_id: int
    delivery_id: int
    email_id: int
    address: str


def event(ref: DeliveryRef, type_: str, **detail: Any) -> NewEvent:
    payload = {"email_id": ref.email_id, "delivery_id": ref.delivery_id, "recipient": ref.address, **detail}
    return NewEvent(ref.tenant_id, type_, ref.delivery_id, payload)


async def record(conn: bulk.Target, items: Sequence[NewEvent]) -> None:
    await events.append(conn, items)


async def timeline(
    conn: AsyncConnection, tenant_id: int, delivery_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """Every ``email.*`` event of these deliveries, oldest first."""
    found: dict[int, list[dict[str, Any]]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return found
    rows = await conn.execute(
        select(Event.subject_id, Event.type, Event.payload, Event.created_at)
        .where(
            Event.tenant_id == tenant_id,
            Event.subject_id.in_(list(delivery_ids)),
            Event.type.like("email.%"),
        )
        .order_by(Event.id)
    )
    for subject_id, type_, payload, created_at in rows:
        if subject_id in found:
            detail = {k: v for k, v in payload.items() if k not in {"email_id", "delivery_id", "recipient"}}
            found[subject_id].append({"type": type_.removeprefix("email."), "at": created_at.isoformat(), **detail})
    return found
