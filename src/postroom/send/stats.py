"""Sending figures over a recent window, from the event log: totals and a per-minute series.

The window's first event is found by bisecting on id (ids and creation times rise
together), so the count reads only the window's rows, not the whole log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.core.models import Event
from postroom.send.models import Delivery, DeliveryStatus
from postroom.store.types import utcnow

SERIES_TYPES = ("sent", "delivered", "deferred", "bounced", "failed", "complained", "opened", "clicked")


async def first_event_id_since(conn: AsyncConnection, since: datetime) -> int | None:
    low = await conn.scalar(select(func.min(Event.id)))
    high = await conn.scalar(select(func.max(Event.id)))
    if low is None or high is None:
        return None
    lo, hi = int(low), int(high) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        moment = (
            await conn.execute(select(Event.created_at).where(Event.id >= mid).order_by(Event.id).limit(1))
        ).scalar()
        if moment is None or moment >= since:
            hi = mid
        else:
            lo = mid + 1
    return lo if lo <= int(high) else None


def _bucket(moment: datetime, step: timedelta) -> datetime:
    if step >= timedelta(hours=1):
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


async def summary(conn: AsyncConnection, tenant_id: int, hours: float) -> dict[str, Any]:
    now = utcnow()
    since = now - timedelta(hours=hours)
    step = timedelta(minutes=1) if hours <= 6 else timedelta(hours=1)
    totals: dict[str, int] = {}
    buckets: dict[datetime, dict[str, int]] = {}
    start = await first_event_id_since(conn, since)
    if start is not None:
        rows = await conn.execute(
            select(Event.type, Event.created_at).where(
                Event.tenant_id == tenant_id, Event.id >= start, Event.type.like("email.%")
            )
        )
        for type_, created_at in rows:
            name = type_.removeprefix("email.")
            totals[name] = totals.get(name, 0) + 1
            if name in SERIES_TYPES:
                bucket = buckets.setdefault(_bucket(created_at, step), {})
                bucket[name] = bucket.get(name, 0) + 1
    depth = await conn.scalar(
        select(func.count()).where(Delivery.tenant_id == tenant_id, Delivery.status.in_(DeliveryStatus.PENDING))
    )
    dead = await conn.scalar(
        select(func.count()).where(Delivery.tenant_id == tenant_id, Delivery.status == DeliveryStatus.FAILED)
    )
    series = []
    moment = _bucket(since, step)
    while moment <= now:
        counts = buckets.get(moment, {})
        series.append({"at": moment.isoformat(), **{t: counts.get(t, 0) for t in SERIES_TYPES}})
        moment += step
    return {
        "hours": hours,
        "since": since.isoformat(),
        "bucket_seconds": int(step.total_seconds()),
        "sent": totals.get("sent", 0),
        "delivered": totals.get("delivered", 0),
        "failed": totals.get("failed", 0),
        "bounced": totals.get("bounced", 0),
        "deferred": totals.get("deferred", 0),
        "complained": totals.get("complained", 0),
        "suppressed": totals.get("suppressed", 0),
        "events": totals,
        "queue_depth": int(depth or 0),
        "dead_letters": int(dead or 0),
        "series": series,
    }
