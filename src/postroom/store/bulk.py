"""Multi-row inserts for the ingest hot path, straight through the driver.

SQLAlchemy Core spent ~275 µs per message row here (parameter processing and
ordered RETURNING); these statements cost a few µs per row. They write the same
formats SQLAlchemy writes (SQLite datetimes as text, JSON as text), so every
other reader keeps using the ORM tables unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

SQLITE_MAX_VARIABLES = 32766


def _adapt_sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        d = value.astimezone(UTC)
        # strftime does not zero-pad years before 1000, which real Date: headers contain.
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _adapt_postgres(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _adapt(conn: AsyncConnection, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    adapt = _adapt_sqlite if conn.dialect.name == "sqlite" else _adapt_postgres
    return [tuple(adapt(v) for v in row) for row in rows]


def _names(columns: Sequence[str]) -> str:
    # "to" is a reserved word; FTS5's rowid must stay unquoted.
    return ", ".join(c if c == "rowid" else f'"{c}"' for c in columns)


def _marks(conn: AsyncConnection, count: int, start: int = 1, casts: Sequence[str] = ()) -> str:
    if conn.dialect.name == "sqlite":
        return ", ".join("?" * count)
    return ", ".join(f"${start + i}" + (f"::{casts[i]}" if i < len(casts) and casts[i] else "") for i in range(count))


async def insert_many(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    casts: Sequence[str] = (),
    on_conflict: str = "",
) -> None:
    """``casts``: per column, a PostgreSQL type to cast the parameter to ('' for none)."""
    if not rows:
        return
    quoted = _names(columns)
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({_marks(conn, len(columns), casts=casts)}) {on_conflict}"
    await conn.exec_driver_sql(sql, _adapt(conn, rows))


async def insert_returning_ids(
    conn: AsyncConnection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, casts: Sequence[str]
) -> list[int]:
    """Insert rows and return their new ids in the order of ``rows``."""
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        return await _sqlite_returning_ids(conn, table, columns, rows)
    result = await conn.exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {len(rows)})"
    )
    ids = [int(r[0]) for r in result]
    await insert_many(
        conn, table, ["id", *columns], [(i, *row) for i, row in zip(ids, rows, strict=True)], casts=["", *casts]
    )
    return ids


async def _sqlite_returning_ids(
    conn: AsyncConnection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    # One multi-row INSERT: SQLite gives an AUTOINCREMENT table's rows rising ids in the
    # order of the VALUES list, so sorting the returned ids restores the input order.
    quoted = _names(columns)
    per_statement = max(1, SQLITE_MAX_VARIABLES // len(columns))
    ids: list[int] = []
    for start in range(0, len(rows), per_statement):
        chunk = _adapt(conn, rows[start : start + per_statement])
        values = ", ".join([f"({_marks(conn, len(columns))})"] * len(chunk))
        result = await conn.exec_driver_sql(
            f"INSERT INTO {table} ({quoted}) VALUES {values} RETURNING id",
            tuple(v for row in chunk for v in row),
        )
        ids += sorted(int(r[0]) for r in result)
    return ids
