"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# SQLite only aliases the rowid for a column declared exactly INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")
JsonColumn = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def upsert_insert(dialect_name: str, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support, in the engine's own dialect."""
    return sqlite.insert(table) if dialect_name == "sqlite" else postgresql.insert(table)


def utcnow() -> datetime:
    return datetime.now(UTC)


def db_text(value: str) -> str:
    """Text every engine stores: PostgreSQL refuses NUL, and no engine takes lone surrogates."""
    if value.isascii() and "\x00" not in value:
        return value
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def db_json(value: Any) -> Any:
    """``db_text`` applied to every string inside lists and dicts."""
    if isinstance(value, str):
        return db_text(value)
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, list):
        return [db_json(item) for item in value]
    if isinstance(value, dict):
        return {key: db_json(item) for key, item in value.items()}
    return value
