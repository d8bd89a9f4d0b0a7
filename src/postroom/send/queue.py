"""The delivery queue: one row per recipient, claimed with a lease, finished in bulk.

A claim sets ``status = 'sending'`` and moves ``run_at`` to the end of the lease, so a
single condition (pending status and ``run_at <= now``) finds both due rows and rows
whose worker died; the partial index ``ix_send_deliveries_due`` holds only pending
rows. On PostgreSQL the claim takes rows with ``FOR UPDATE SKIP LOCKED`` so any number
of workers share the table; on SQLite the single writer serialises claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.send.models import PENDING_SQL, Delivery, DeliveryStatus
from postroom.store.types import utcnow

TERMINAL = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.COMPLAINED,
    DeliveryStatus.SUPPRESSED,
    DeliveryStatus.FAILED,
    DeliveryStatus.CANCELLED,
)


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    email_id: int
    address: str
    domain: str
    kind: str
    variables: dict[str, Any] | None
    attempts: int
    run_at: datetime  # when the claim happened's due time: queue latency is measured from it
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed delivery; written back in bulk."""

    delivery_id: int
    status: str
    response: str = ""
    transport: str | None = None
    provider_message_id: str | None = None
    retry_at: datetime | None = None  # for DEFERRED


async def claim(conn: AsyncConnection, worker_id: str, *, limit: int, lease_seconds: float) -> list[Claimed]:
    now = utcnow()
    due = (
        select(Delivery.id)
        .where(text(PENDING_SQL), Delivery.run_at <= now)
        .order_by(Delivery.priority, Delivery.run_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # One statement, so two workers can never both claim a row (SQLite runs a lone SELECT
    # outside any transaction).
    rows = await conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            locked_by=worker_id,
            run_at=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .returning(
            Delivery.id,
            Delivery.tenant_id,
            Delivery.email_id,
            Delivery.address,
            Delivery.domain,
            Delivery.kind,
            Delivery.variables,
            Delivery.attempts,
            Delivery.created_at,
        )
    )
    claimed = [
        Claimed(id=r[0], tenant_id=r[1], email_id=r[2], address=r[3], domain=r[4], kind=r[5], variables=r[6],
                attempts=r[7], run_at=now, created_at=r[8])
        for r in rows
    ]  # fmt: skip
    claimed.sort(key=lambda c: c.id)
    return claimed


async def still_held(conn: AsyncConnection, worker_id: str, delivery_ids: Sequence[int]) -> set[int]:
    """Which of these deliveries this worker still holds: a lease that ran out may be another's now.

    The answer must hold until the transaction ends: on PostgreSQL the rows are locked
    (``FOR UPDATE``); on SQLite a write takes the database's write lock (a lone read would
    run outside any transaction).
    """
    held: set[int] = set()
    now = utcnow()
    for start in range(0, len(delivery_ids), 500):
        chunk = list(delivery_ids[start : start + 500])
        mine = and_(Delivery.id.in_(chunk), Delivery.locked_by == worker_id)
        if conn.dialect.name == "postgresql":
            rows = await conn.execute(select(Delivery.id).where(mine).with_for_update())
        else:
            rows = await conn.execute(update(Delivery).where(mine).values(updated_at=now).returning(Delivery.id))
        held.update(r[0] for r in rows)
    return held


async def finish(conn: AsyncConnection, worker_id: str, outcomes: Sequence[Outcome]) -> None:
    """Write outcomes of deliveries this worker still holds (see ``still_held``)."""
    if not outcomes:
        return
    now = utcnow()
    statement = (
        update(Delivery)
        .where(and_(Delivery.id == bindparam("b_id"), Delivery.locked_by == bindparam("b_worker")))
        .values(
            status=bindparam("b_status"),
            run_at=bindparam("b_run_at"),
            locked_by=None,
            transport=bindparam("b_transport"),
            provider_message_id=bindparam("b_provider_id"),
            last_response=bindparam("b_response"),
            updated_at=now,
            finished_at=bindparam("b_finished_at"),
        )
    )
    statement = statement.execution_options(synchronize_session=False)
    await conn.execute(
        statement,
        [
            {
                "b_id": o.delivery_id,
                "b_worker": worker_id,
                "b_status": o.status,
                "b_run_at": o.retry_at or now,
                "b_transport": o.transport,
                "b_provider_id": o.provider_message_id,
                "b_response": o.response[:2000],
                "b_finished_at": None if o.status in DeliveryStatus.PENDING else now,
            }
            for o in outcomes
        ],
    )


async def extend(conn: AsyncConnection, worker_id: str, delivery_ids: Sequence[int], *, lease_seconds: float) -> None:
    """Renew the lease on deliveries still in flight, so a slow but live worker keeps them."""
    until = utcnow() + timedelta(seconds=lease_seconds)
    for start in range(0, len(delivery_ids), 500):
        chunk = list(delivery_ids[start : start + 500])
        await conn.execute(
            update(Delivery)
            .where(Delivery.id.in_(chunk), Delivery.locked_by == worker_id, Delivery.status == DeliveryStatus.SENDING)
            .values(run_at=until)
        )


async def release(conn: AsyncConnection, worker_id: str, delivery_ids: Sequence[int]) -> None:
    """Hand unfinished deliveries back at shutdown (the attempt does not count)."""
    if not delivery_ids:
        return
    now = utcnow()
    await conn.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.locked_by == worker_id)
        .values(
            status=DeliveryStatus.QUEUED, locked_by=None, run_at=now, attempts=Delivery.attempts - 1, updated_at=now
        )
    )


async def depth(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(Delivery).where(text(PENDING_SQL))) or 0)
