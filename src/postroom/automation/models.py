"""Tables of outgoing webhooks: the endpoints customers register and the log of every attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.store.base import Base
from postroom.store.types import BigIntId, JsonColumn, UTCDateTime, utcnow


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    description: Mapped[str] = mapped_column(String(500), default="", nullable=False)
    # None: every event type; otherwise exact types or "prefix.*" patterns.
    event_types: Mapped[list[str] | None] = mapped_column(JsonColumn)
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)  # Fernet, see core.crypto
    # After a rotation the old secret keeps signing too until it expires, so receivers can switch over.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Id of the last event of the tenant that the dispatcher has handed to the job queue.
    event_cursor: Mapped[int] = mapped_column(BigIntId, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (Index("ix_webhook_endpoints_tenant_id", "tenant_id"),)


class DeliveryStatus:
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # another attempt follows
    DEAD = "dead"  # the last attempt failed, or the URL was refused


class WebhookDelivery(Base):
    """One delivery attempt of one event to one endpoint."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    event_id: Mapped[int | None] = mapped_column(BigIntId)  # None for a test event
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    webhook_id: Mapped[str] = mapped_column(String(64), nullable=False)  # the `webhook-id` header
    job_id: Mapped[int | None] = mapped_column(BigIntId)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)  # the first few KB
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        Index("ix_webhook_deliveries_tenant_id_endpoint_id_id", "tenant_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_endpoint_id", "endpoint_id"),
        {"sqlite_autoincrement": True},
    )
