"""Per-tenant message and unread counts, kept exact in the transactions that change them.

Counting a million rows took 0.3-0.7 s per inbox listing; these rows answer at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import BigInteger, ForeignKey, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from postroom.store import bulk
from postroom.store.base import Base
from postroom.store.models import Message


class TenantCounter(Base):
    __tablename__ = "tenant_counters"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    unread: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


async def add(conn: bulk.Target, deltas: Mapping[int, tuple[int, int]]) -> None:
    """Apply (messages, unread) changes per tenant."""
    rows = [(tenant, messages, unread) for tenant, (messages, unread) in deltas.items() if messages or unread]
    await bulk.insert_many(
        conn,
        "tenant_counters",
        ["tenant_id", "messages", "unread"],
        rows,
        on_conflict=(
            "ON CONFLICT (tenant_id) DO UPDATE SET messages = tenant_counters.messages + excluded.messages, "
            "unread = tenant_counters.unread + excluded.unread"
        ),
    )


async def read(conn: AsyncConnection, tenant_id: int) -> tuple[int, int]:
    row = (
        await conn.execute(
            select(TenantCounter.messages, TenantCounter.unread).where(TenantCounter.tenant_id == tenant_id)
        )
    ).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def rebuild(conn: AsyncConnection) -> None:
    """Recount from the messages table (after a bulk load that bypassed ingest)."""
    await conn.execute(delete(TenantCounter))
    counts = select(
        Message.tenant_id,
        func.count(),
        func.coalesce(func.sum(case((Message.is_read.is_(False), 1), else_=0)), 0),
    ).group_by(Message.tenant_id)
    await conn.execute(insert(TenantCounter).from_select(["tenant_id", "messages", "unread"], counts))
