"""Webhook endpoints per tenant: create, change, rotate the secret, test, and read the delivery log.

Every query is scoped by tenant. The signing secret is returned only by ``create``
and ``rotate_secret``; it is stored encrypted with ``core.crypto``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from enum import Enum
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postroom.auth.service import Conflict, InvalidInput, NotFound
from postroom.automation import deliveries
from postroom.automation.deliveries import DeliveryRequest, enqueue_delivery
from postroom.automation.models import WebhookDelivery, WebhookEndpoint
from postroom.automation.signing import new_secret
from postroom.automation.urlguard import UnsafeUrl, resolve_url
from postroom.config import Settings
from postroom.core import events
from postroom.core.crypto import SecretBox
from postroom.store.types import db_text, utcnow

__all__ = ["DEFAULT_ROTATION_GRACE", "KEEP", "WebhookService"]

DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MAX_DESCRIPTION = 500


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # "leave this field as it is" in ``update``


def endpoint_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "event_types": row.event_types,
        "enabled": row.enabled,
        "event_cursor": row.event_cursor,
        "previous_secret_expires_at": (
            row.previous_secret_expires_at.isoformat() if row.previous_secret_expires_at else None
        ),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


class WebhookService:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.box = SecretBox(settings.encryption_secrets)

    # ---- endpoints -------------------------------------------------------------
    async def create(
        self,
        tenant_id: int,
        url: str,
        *,
        description: str = "",
        event_types: Sequence[str] | None = None,
        enabled: bool = True,
    ) -> dict[str, Any]:
        """The new endpoint with its ``secret`` (shown this once). It gets events from now on."""
        await self._check_url(url)
        types = _event_types(event_types)
        secret = new_secret()
        now = utcnow()
        async with self.engine.begin() as conn:
            cursor = await events.last_id(conn, tenant_id)
            endpoint_id = await conn.scalar(
                insert(WebhookEndpoint)
                .values(
                    tenant_id=tenant_id,
                    url=url,
                    description=_description(description),
                    event_types=types,
                    secret_encrypted=self._seal(secret),
                    enabled=enabled,
                    event_cursor=cursor,
                    created_at=now,
                    updated_at=now,
                )
                .returning(WebhookEndpoint.id)
            )
            assert endpoint_id is not None
            row = await self._row(conn, tenant_id, int(endpoint_id))
        return {**endpoint_json(row), "secret": secret}

    async def list_endpoints(self, tenant_id: int) -> list[dict[str, Any]]:
        query = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).order_by(WebhookEndpoint.id)
        async with self.engine.connect() as conn:
            return [endpoint_json(r) for r in await conn.execute(query)]

    async def get(self, tenant_id: int, endpoint_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            return endpoint_json(await self._row(conn, tenant_id, endpoint_id))

    async def update(
        self,
        tenant_id: int,
        endpoint_id: int,
        *,
        url: str | None = None,
        description: str | None = None,
        event_types: Sequence[str] | _Keep | None = KEEP,
        enabled: bool | None = None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if url is not None:
            await self._check_url(url)
            values["url"] = url
        if description is not None:
            values["description"] = _description(description)
        if event_types is not KEEP:
            values["event_types"] = _event_types(event_types)
        async with self.engine.begin() as conn:
            row = await self._row(conn, tenant_id, endpoint_id)
            if enabled is not None:
                values["enabled"] = enabled
                if enabled and not row.enabled:
                    # A re-enabled endpoint starts from now; what happened while it was off is not replayed.
                    values["event_cursor"] = await events.last_id(conn, tenant_id)
            await conn.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(values))
            return endpoint_json(await self._row(conn, tenant_id, endpoint_id))

    async def delete(self, tenant_id: int, endpoint_id: int) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id)
            )
        if not result.rowcount:
            raise NotFound("no such webhook endpoint")

    async def rotate_secret(
        self, tenant_id: int, endpoint_id: int, *, keep_old: timedelta = DEFAULT_ROTATION_GRACE
    ) -> dict[str, Any]:
        """A new secret; the old one keeps signing alongside it for ``keep_old`` (zero: revoked at once)."""
        secret = new_secret()
        now = utcnow()
        async with self.engine.begin() as conn:
            row = await self._row(conn, tenant_id, endpoint_id)
            keep = keep_old.total_seconds() > 0
            await conn.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(
                    secret_encrypted=self._seal(secret),
                    previous_secret_encrypted=row.secret_encrypted if keep else None,
                    previous_secret_expires_at=now + keep_old if keep else None,
                    updated_at=now,
                )
            )
            fresh = await self._row(conn, tenant_id, endpoint_id)
        return {**endpoint_json(fresh), "secret": secret}

    def signing_secrets(self, endpoint: Any) -> list[str]:
        """The secrets that sign a delivery now: the current one, and a rotated-out one still in its grace."""
        found = [self._open(endpoint.secret_encrypted)]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret_encrypted and expires is not None and expires > utcnow():
            found.append(self._open(endpoint.previous_secret_encrypted))
        return found

    # ---- deliveries -------------------------------------------------------------
    async def send_test(self, tenant_id: int, endpoint_id: int) -> dict[str, Any]:
        """Queue a ``webhook.test`` message for the endpoint; returns the job and the webhook id."""
        async with self.engine.begin() as conn:
            row = await self._row(conn, tenant_id, endpoint_id)
            _require_enabled(row)
            request = DeliveryRequest.for_test(endpoint_id)
            job_id = await enqueue_delivery(
                conn, tenant_id, request, max_attempts=self.settings.webhook_max_attempts, idempotency_key=None
            )
        return {"job_id": job_id, "webhook_id": request.webhook_id, "endpoint_id": endpoint_id}

    async def list_deliveries(
        self,
        tenant_id: int,
        endpoint_id: int,
        *,
        before: int | None = None,
        limit: int = 50,
        status: str | None = None,
        event_id: int | None = None,
    ) -> dict[str, Any]:
        """Attempts, newest first; pass ``next_before`` back as ``before`` for the next page."""
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(WebhookDelivery.id < before)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if event_id is not None:
            query = query.where(WebhookDelivery.event_id == event_id)
        async with self.engine.connect() as conn:
            await self._row(conn, tenant_id, endpoint_id)
            items = [deliveries.delivery_json(r) for r in await conn.execute(query)]
        return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}

    async def retry_delivery(self, tenant_id: int, delivery_id: int) -> dict[str, Any]:
        """Send the event of a logged attempt to its endpoint again, with a fresh set of attempts."""
        async with self.engine.connect() as conn:
            logged = (
                await conn.execute(
                    select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id).where(
                        WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant_id
                    )
                )
            ).first()
        if logged is None:
            raise NotFound("no such webhook delivery")
        endpoint_id, event_id = logged
        if event_id is None:
            return await self.send_test(tenant_id, endpoint_id)
        async with self.engine.begin() as conn:
            _require_enabled(await self._row(conn, tenant_id, endpoint_id))
            request = DeliveryRequest.for_event(endpoint_id, event_id)
            job_id = await enqueue_delivery(
                conn,
                tenant_id,
                request,
                max_attempts=self.settings.webhook_max_attempts,
                idempotency_key=f"webhook:{endpoint_id}:{event_id}:retry:{uuid.uuid4().hex}",
            )
        return {"job_id": job_id, "webhook_id": request.webhook_id, "endpoint_id": endpoint_id}

    # ---- helpers ----------------------------------------------------------------
    async def _row(self, conn: AsyncConnection, tenant_id: int, endpoint_id: int) -> Any:
        row = (
            await conn.execute(
                select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == tenant_id)
            )
        ).first()
        if row is None:
            raise NotFound("no such webhook endpoint")
        return row

    def _seal(self, secret: str) -> str:
        return self.box.encrypt(secret.encode()).decode("ascii")

    def _open(self, stored: str) -> str:
        return self.box.decrypt(stored.encode("ascii")).decode()

    async def _check_url(self, url: str) -> None:
        try:
            await resolve_url(url, allow_private=self.settings.webhook_allow_private, require_resolution=False)
        except UnsafeUrl as exc:
            raise InvalidInput(f"webhook URL refused: {exc}") from exc


def _event_types(types: Sequence[str] | None) -> list[str] | None:
    try:
        return deliveries.normalise_event_types(types)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(f"the description is longer than {MAX_DESCRIPTION} characters")
    return db_text(text)


def _require_enabled(row: Any) -> None:
    if not row.enabled:
        raise Conflict("the webhook endpoint is disabled; enable it first")
