"""Pruning: keep only the newest ``MAX_MESSAGES`` messages of each tenant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.auth.models import Tenant
from postroom.core.messages import DELETE_CHUNK, MessageService
from postroom.store.models import Message

__all__ = ["prune", "prune_tenant"]


async def prune(engine: AsyncEngine, messages: MessageService, max_messages: int) -> int:
    """Delete every tenant's messages beyond the newest ``max_messages``; returns how many went."""
    if max_messages <= 0:
        return 0
    async with engine.connect() as conn:
        tenant_ids = list(await conn.scalars(select(Tenant.id).order_by(Tenant.id)))
    deleted = 0
    for tenant_id in tenant_ids:
        deleted += await prune_tenant(engine, messages, tenant_id, max_messages)
    return deleted


async def prune_tenant(engine: AsyncEngine, messages: MessageService, tenant_id: int, max_messages: int) -> int:
    # The newest id to drop, found by walking the (tenant_id, id) index backwards;
    # everything at or below it goes, newer arrivals are never touched.
    async with engine.connect() as conn:
        cutoff = await conn.scalar(
            select(Message.id)
            .where(Message.tenant_id == tenant_id)
            .order_by(Message.id.desc())
            .offset(max_messages)
            .limit(1)
        )
    if cutoff is None:
        return 0
    deleted = 0
    while True:
        async with engine.connect() as conn:
            ids = list(
                await conn.scalars(
                    select(Message.id)
                    .where(Message.tenant_id == tenant_id, Message.id <= cutoff)
                    .order_by(Message.id)
                    .limit(DELETE_CHUNK)
                )
            )
        if not ids:
            return deleted
        # Through the message service, so the delete events and blob clean-up happen.
        deleted += await messages.delete_ids(tenant_id, ids)
