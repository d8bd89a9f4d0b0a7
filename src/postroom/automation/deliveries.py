"""The delivery jobs and the delivery log, as rows: what the service, dispatcher and handler share."""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.automation.models import WebhookDelivery
from postroom.core import jobs
from postroom.core.worker import PermanentJobError
from postroom.store.types import db_text, utcnow

__all__ = [
    "TEST_EVENT_TYPE",
    "WEBHOOK_JOB",
    "Attempt",
    "DeliveryRequest",
    "delivery_json",
    "enqueue_delivery",
    "normalise_event_types",
    "record_attempt",
    "type_matches",
]

WEBHOOK_JOB = "webhook.deliver"
TEST_EVENT_TYPE = "webhook.test"
EVENT_TYPE_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$")


@dataclass(frozen=True)
class DeliveryRequest:
    """A job's payload: one event (or a test message) for one endpoint."""

    endpoint_id: int
    event_id: int | None
    webhook_id: str
    test_message: dict[str, Any] | None = None

    @classmethod
    def for_event(cls, endpoint_id: int, event_id: int) -> DeliveryRequest:
        # The same id on every attempt and every resend lets receivers drop duplicates.
        return cls(endpoint_id, event_id, f"evt_{event_id}")

    @classmethod
    def for_test(cls, endpoint_id: int) -> DeliveryRequest:
        webhook_id = f"test_{uuid.uuid4().hex}"
        message = {
            "type": TEST_EVENT_TYPE,
            "timestamp": utcnow().isoformat(),
            "data": {"endpoint_id": endpoint_id, "message": "This is a test event from Postroom."},
        }
        return cls(endpoint_id, None, webhook_id, message)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> DeliveryRequest:
        endpoint_id, event_id = payload.get("endpoint_id"), payload.get("event_id")
        webhook_id, test_message = payload.get("webhook_id"), payload.get("test_message")
        if not isinstance(endpoint_id, int) or not isinstance(webhook_id, str):
            raise PermanentJobError("webhook payload needs an integer endpoint_id and a webhook_id")
        if isinstance(event_id, int) and test_message is None:
            return cls(endpoint_id, event_id, webhook_id)
        if event_id is None and isinstance(test_message, dict):
            return cls(endpoint_id, None, webhook_id, test_message)
        raise PermanentJobError("webhook payload needs either an integer event_id or a test_message")

    def to_payload(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
            "test_message": self.test_message,
        }


async def enqueue_delivery(
    conn: AsyncConnection,
    tenant_id: int,
    request: DeliveryRequest,
    *,
    max_attempts: int,
    idempotency_key: str | None,
) -> int:
    return await jobs.enqueue(
        conn,
        WEBHOOK_JOB,
        request.to_payload(),
        tenant_id=tenant_id,
        max_attempts=max_attempts,
        idempotency_key=idempotency_key,
    )


def normalise_event_types(types: Sequence[str] | None) -> list[str] | None:
    """None for "every type"; otherwise sorted, unique, well-formed names or ``prefix.*`` patterns."""
    if not types or "*" in types:
        return None
    cleaned = sorted({t.strip() for t in types})
    bad = [t for t in cleaned if not EVENT_TYPE_PATTERN.match(t)]
    if bad:
        raise ValueError(f"not an event type: {', '.join(bad)} (use names like 'email.bounced' or 'email.*')")
    return cleaned


def type_matches(filter_: Sequence[str] | None, event_type: str) -> bool:
    if filter_ is None:
        return True
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in filter_)


@dataclass(frozen=True)
class Attempt:
    tenant_id: int
    endpoint_id: int
    request: DeliveryRequest
    event_type: str
    job_id: int | None
    attempt: int
    status: str
    started_at: datetime
    response_status: int | None = None
    response_body: str | None = None
    duration_ms: int | None = None
    error: str | None = None


async def record_attempt(conn: AsyncConnection, attempt: Attempt) -> int:
    row_id = await conn.scalar(
        insert(WebhookDelivery)
        .values(
            tenant_id=attempt.tenant_id,
            endpoint_id=attempt.endpoint_id,
            event_id=attempt.request.event_id,
            event_type=attempt.event_type[:64],
            webhook_id=attempt.request.webhook_id,
            job_id=attempt.job_id,
            attempt=attempt.attempt,
            status=attempt.status,
            response_status=attempt.response_status,
            response_body=db_text(attempt.response_body) if attempt.response_body is not None else None,
            duration_ms=attempt.duration_ms,
            error=db_text(attempt.error[:4000]) if attempt.error is not None else None,
            started_at=attempt.started_at,
            finished_at=utcnow(),
        )
        .returning(WebhookDelivery.id)
    )
    assert row_id is not None
    return int(row_id)


def delivery_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "webhook_id": row.webhook_id,
        "job_id": row.job_id,
        "attempt": row.attempt,
        "status": row.status,
        "response_status": row.response_status,
        "response_body": row.response_body,
        "duration_ms": row.duration_ms,
        "error": row.error,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat(),
    }
