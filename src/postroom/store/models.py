"""Tables of the shared message store.

The raw bytes of every message live in the blob store; these rows hold the envelope,
the header-level fields written on ingest and, once the full parse has run, the
bodies and attachment list. Full-text search rows are created by the migrations
(FTS5 on SQLite, tsvector on PostgreSQL) and written by ``store.search``.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from postroom.store.base import Base
from postroom.store.types import BigIntId, JsonColumn, UTCDateTime, utcnow


class ParseState(IntEnum):
    PENDING = 0  # header-level fields only; the full parse job has not run yet
    PARSED = 1
    FAILED = 2  # the full parse gave up; raw bytes and header fields remain


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    source: Mapped[str] = mapped_column(String(16), default="smtp")
    message_id: Mapped[str | None] = mapped_column(String(998))
    subject: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str] = mapped_column(Text, default="")
    from_address: Mapped[str] = mapped_column(String(320), default="")
    to: Mapped[list[dict[str, str]]] = mapped_column(JsonColumn, default=list)
    cc: Mapped[list[dict[str, str]]] = mapped_column(JsonColumn, default=list)
    bcc: Mapped[list[dict[str, str]]] = mapped_column(JsonColumn, default=list)
    reply_to: Mapped[list[dict[str, str]]] = mapped_column(JsonColumn, default=list)
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    envelope_to: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    size: Mapped[int] = mapped_column(Integer, default=0)
    blob_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    parse_state: Mapped[int] = mapped_column(SmallInteger, default=ParseState.PENDING, nullable=False)
    flags: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    snippet: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_messages_tenant_id_id", "tenant_id", "id"),
        Index("ix_messages_parse_state_id", "parse_state", "id"),
        # "anything left to parse for this tenant?" before a body search, without a scan
        Index(
            "ix_messages_pending",
            "tenant_id",
            "id",
            sqlite_where=text("parse_state = 0"),
            postgresql_where=text("parse_state = 0"),
        ),
        # has:attachment counts and pages without scanning the other 95 %
        Index(
            "ix_messages_attachments",
            "tenant_id",
            "id",
            sqlite_where=text("has_attachments = 1"),
            postgresql_where=text("has_attachments = true"),
        ),
        Index("ix_messages_blob_sha256", "blob_sha256"),
        Index("ix_messages_tenant_id_from_address", "tenant_id", "from_address"),
        {"sqlite_autoincrement": True},
    )


class MessageTag(Base):
    __tablename__ = "message_tags"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)

    __table_args__ = (Index("ix_message_tags_tenant_id_tag_message_id", "tenant_id", "tag", "message_id"),)


class MessageBody(Base):
    """What the full parse found; rebuilt from the raw blob whenever needed."""

    __tablename__ = "message_bodies"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[list[list[str]]] = mapped_column(JsonColumn, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn, default=list)
