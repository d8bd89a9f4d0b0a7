"""Async engines and sessions for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a committed transaction survives power loss, which is what the SMTP 250 promises.
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA mmap_size=268435456",
)


# asyncpg prepares every statement, and after five runs PostgreSQL may switch a prepared
# statement to a generic plan, chosen without the parameter values. For search that is the
# wrong plan whenever the values matter (a word in half the messages or in ten, a big
# tenant or a small one): a common word took 45 instead of 8 ms at 1M messages. Planning
# each run costs a fraction of a millisecond.
PG_SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": False}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800)
    kwargs["connect_args"] = {"server_settings": PG_SERVER_SETTINGS}
    return create_async_engine(url, **kwargs)


def sqlite_file(url: str | URL) -> str | None:
    """The database file of a SQLite URL; None for another engine.

    Raises ValueError for SQLite without a file (in memory, or a ``file:`` URI): every pooled
    connection to an in-memory database sees an empty one of its own, and ingest writes
    through a connection of its own to the file."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database.startswith((":memory:", "file:")):
        raise ValueError(
            f"SQLite needs a database file, as in sqlite:///path/to/postroom.db, not {database or 'none'!r} "
            "(in-memory and file: URI databases are not supported)"
        )
    return database


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # aiosqlite's adapter opens transactions itself; pragmas must run outside one.
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()
