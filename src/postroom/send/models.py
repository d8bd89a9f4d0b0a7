"""Tables of the sending capability.

An *email* holds what is sent (content or a template, shared variables, attachments);
each of its recipients is one *delivery*: a queue row with its own status, attempts and
lease, so every recipient ends in exactly one terminal state. A batch is one email with
many deliveries, each with its own variables. The timeline of a delivery lives in the
shared event log (``events`` rows of type ``email.*`` whose subject is the delivery).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.store.base import Base
from postroom.store.types import BigIntId, JsonColumn, UTCDateTime, utcnow


class DeliveryStatus:
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker (leased)
    DEFERRED = "deferred"  # waiting for its next attempt
    SENT = "sent"  # a provider took it; delivery is reported later by webhook
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"
    FAILED = "failed"  # every attempt failed: the dead-letter state
    CANCELLED = "cancelled"

    PENDING = (QUEUED, SENDING, DEFERRED)
    ALL = (QUEUED, SENDING, DEFERRED, SENT, DELIVERED, BOUNCED, COMPLAINED, SUPPRESSED, FAILED, CANCELLED)


class Priority:
    """Lower numbers go first, so the claim walks its index in one direction."""

    HIGH = 0
    NORMAL = 1
    LOW = 2

    BY_NAME = {"high": HIGH, "normal": NORMAL, "low": LOW}


class Email(Base):
    __tablename__ = "send_emails"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    batch: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    from_address: Mapped[str] = mapped_column(String(998), nullable=False)
    to: Mapped[list[str]] = mapped_column(JsonColumn, default=list)  # header To (a batch: empty, per recipient)
    cc: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    reply_to: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[int | None] = mapped_column(Integer)
    template_version: Mapped[int | None] = mapped_column(Integer)
    variables: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    headers: Mapped[dict[str, str]] = mapped_column(JsonColumn, default=dict)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn, default=list)
    tags: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    email_metadata: Mapped[dict[str, str]] = mapped_column("metadata", JsonColumn, default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.NORMAL, nullable=False)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    track_opens: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    list_unsubscribe: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (Index("ix_send_emails_tenant_id_id", "tenant_id", "id"), {"sqlite_autoincrement": True})


# The partial index and the claim must spell the condition identically (with literals, not
# parameters), or the planners cannot prove the index applies.
PENDING_SQL = "status IN ('queued', 'deferred', 'sending')"


class Delivery(Base):
    __tablename__ = "send_deliveries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    email_id: Mapped[int] = mapped_column(ForeignKey("send_emails.id", ondelete="CASCADE"), nullable=False)
    address: Mapped[str] = mapped_column(String(320), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), default="to", nullable=False)  # to, cc, bcc
    domain: Mapped[str] = mapped_column(String(255), nullable=False)
    variables: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.NORMAL, nullable=False)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # While status is "sending", run_at is when the worker's lease runs out.
    locked_by: Mapped[str | None] = mapped_column(String(128))
    transport: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    last_response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        # The claim query walks this index: only pending rows are in it.
        Index(
            "ix_send_deliveries_due",
            "priority",
            "run_at",
            postgresql_where=text(PENDING_SQL),
            sqlite_where=text(PENDING_SQL),
        ),
        Index("ix_send_deliveries_email_status", "email_id", "status"),
        Index("ix_send_deliveries_tenant_status", "tenant_id", "status", "id"),
        Index("ix_send_deliveries_provider_id", "provider_message_id"),
        {"sqlite_autoincrement": True},
    )


class Suppression(Base):
    __tablename__ = "send_suppressions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    address: Mapped[str] = mapped_column(String(320), nullable=False)  # lower-cased
    reason: Mapped[str] = mapped_column(String(32), nullable=False)  # hard_bounce, complaint, unsubscribe, manual
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("tenant_id", "address"),)


class IdempotentRequest(Base):
    """The first answer to a request sent with an ``Idempotency-Key``; repeats get it again."""

    __tablename__ = "send_idempotency"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    route: Mapped[str] = mapped_column(String(64), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("tenant_id", "route", "key"),)


class Template(Base):
    __tablename__ = "send_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    current_version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    sample_variables: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class TemplateVersion(Base):
    __tablename__ = "send_template_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("send_templates.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    subject: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("template_id", "version"),)


class SendingDomain(Base):
    """A domain the tenant sends from, with its DKIM keys (the newest active one signs)."""

    __tablename__ = "send_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    domain: Mapped[str] = mapped_column(String(255), nullable=False)
    selector: Mapped[str] = mapped_column(String(63), nullable=False)
    private_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # encrypted PEM
    public_record: Mapped[str] = mapped_column(Text, nullable=False)  # the TXT value to publish
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("tenant_id", "domain", "selector"),)


class TransportConfig(Base):
    """Which transport a tenant (or one of its sender domains) uses, with encrypted credentials."""

    __tablename__ = "send_transports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    domain: Mapped[str] = mapped_column(String(255), default="", nullable=False)  # "" = the tenant's default
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    options: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # encrypted JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("tenant_id", "domain"),)


class ProviderReceipt(Base):
    """Provider webhook events already taken, so a replayed delivery is refused."""

    __tablename__ = "send_provider_receipts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    event_id: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("provider", "event_id"), {"sqlite_autoincrement": True})


class Cursor(Base):
    """How far a background reader of the event log has got (the bounce collector)."""

    __tablename__ = "send_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigIntId, nullable=False, default=0)
