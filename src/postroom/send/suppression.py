"""The per-tenant suppression list: addresses that must never be mailed again.

Hard bounces, complaints and unsubscribes add to it automatically; people edit it over
the API. Addresses are compared lower-cased.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.send.models import Suppression
from postroom.store.types import upsert_insert, utcnow

REASONS = ("hard_bounce", "complaint", "unsubscribe", "manual")
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class SuppressedAddress:
    address: str
    reason: str
    detail: str
    created_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "address": self.address,
            "reason": self.reason,
            "detail": self.detail,
            "created_at": self.created_at.isoformat(),
        }


async def add(conn: AsyncConnection, tenant_id: int, address: str, reason: str, detail: str = "") -> bool:
    """Suppress an address; returns False when it already was (the first reason stays)."""
    statement = (
        upsert_insert(conn.dialect.name, Suppression)
        .values(tenant_id=tenant_id, address=address.lower(), reason=reason, detail=detail[:2000], created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["tenant_id", "address"])
        .returning(Suppression.id)
    )
    return (await conn.scalar(statement)) is not None


async def remove(conn: AsyncConnection, tenant_id: int, address: str) -> bool:
    result = await conn.execute(
        delete(Suppression).where(Suppression.tenant_id == tenant_id, Suppression.address == address.lower())
    )
    return bool(result.rowcount)


async def get(conn: AsyncConnection, tenant_id: int, address: str) -> SuppressedAddress | None:
    row = (
        await conn.execute(
            select(Suppression).where(Suppression.tenant_id == tenant_id, Suppression.address == address.lower())
        )
    ).first()
    if row is None:
        return None
    s = row
    return SuppressedAddress(s.address, s.reason, s.detail, s.created_at)


async def listing(
    conn: AsyncConnection, tenant_id: int, *, limit: int, after_id: int = 0, reason: str | None = None
) -> tuple[list[SuppressedAddress], int | None, int]:
    """One page of the list, newest first by id cursor; returns (items, next cursor, total)."""
    where = [Suppression.tenant_id == tenant_id]
    if reason:
        where.append(Suppression.reason == reason)
    page = select(Suppression).where(*where)
    if after_id:
        page = page.where(Suppression.id < after_id)
    rows = [r for r in await conn.execute(page.order_by(Suppression.id.desc()).limit(limit + 1))]
    total = int(await conn.scalar(select(func.count()).select_from(Suppression).where(*where)) or 0)
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    items = [SuppressedAddress(s.address, s.reason, s.detail, s.created_at) for s in rows[:limit]]
    return items, next_cursor, total


async def suppressed_among(conn: AsyncConnection, tenant_id: int, addresses: Iterable[str]) -> set[str]:
    """Which of these (lower-cased) addresses are suppressed."""
    wanted: Sequence[str] = sorted({a.lower() for a in addresses})
    found: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows = await conn.execute(
            select(Suppression.address).where(Suppression.tenant_id == tenant_id, Suppression.address.in_(chunk))
        )
        found.update(r[0] for r in rows)
    return found
