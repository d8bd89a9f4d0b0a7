"""Multi-row inserts for the ingest hot path, straight through the driver.

SQLAlchemy Core spent ~275 µs per message row here (parameter processing and
ordered RETURNING), and even ``exec_driver_sql`` cost ~90 µs of event-loop time per
statement. These statements cost a few µs per row. They write the same formats
SQLAlchemy writes (SQLite datetimes as text, JSON as text), so every other reader
keeps using the ORM tables unchanged.

Each function takes an SQLAlchemy ``AsyncConnection`` (inside its transaction), a
``RawWriter``, which talks to aiosqlite or asyncpg directly, a ``SqliteBatch``, which
queues the statements of a transaction on a plain ``sqlite3`` connection and runs them
all in one call from the thread that owns it (ingest's group commit on SQLite), or a
``PgBatch``, which sends a batch's inserts to PostgreSQL as one statement (ingest's
group commit there).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

SQLITE_MAX_VARIABLES = 32766


class RawWriter:
    """A transaction on the driver's own connection (aiosqlite or asyncpg)."""

    def __init__(self, dialect: str, driver: Any) -> None:
        self.dialect = SimpleNamespace(name=dialect)
        self.driver = driver

    @classmethod
    @asynccontextmanager
    async def transaction(cls, conn: AsyncConnection) -> AsyncIterator[RawWriter]:
        raw = await conn.get_raw_connection()
        writer = cls(conn.dialect.name, raw.driver_connection)
        if conn.dialect.name == "sqlite":
            await writer.driver.execute("BEGIN IMMEDIATE")
            try:
                yield writer
            except BaseException:
                await writer.driver.execute("ROLLBACK")
                raise
            await writer.driver.execute("COMMIT")
        else:
            async with writer.driver.transaction():
                yield writer

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self.driver.executemany(sql, rows)  # aiosqlite and asyncpg spell it alike

    async def fetch_ids(self, sql: str, params: tuple[Any, ...]) -> list[int]:
        if self.dialect.name == "sqlite":
            cursor = await self.driver.execute(sql, params)
            return [int(r[0]) for r in await cursor.fetchall()]
        return [int(r[0]) for r in await self.driver.fetch(sql, *params)]


class SqliteBatch:
    """One SQLite write transaction as two blocking calls, for a thread that owns ``connection``.

    ``begin()`` takes the write lock and reads the next ids of the tables named; the
    insert functions then only queue their statements (ids come from those counters);
    ``commit()`` runs the queue and commits. An event loop thus hands the transaction to
    the thread twice instead of once per statement.
    """

    dialect = SimpleNamespace(name="sqlite")

    def __init__(self, connection: sqlite3.Connection, next_ids: dict[str, int]) -> None:
        self.connection = connection
        self.next_ids = next_ids
        self.statements: list[tuple[str, list[tuple[Any, ...]]]] = []

    @classmethod
    def begin(cls, connection: sqlite3.Connection, id_tables: Sequence[str] = ()) -> SqliteBatch:
        """``connection`` must be in autocommit mode (``isolation_level=None``)."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            next_ids = {}
            for table in id_tables:
                # AUTOINCREMENT never reuses an id: above both the sequence and the largest id.
                (sequence,) = connection.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
                ).fetchone() or (0,)
                (largest,) = connection.execute(f"SELECT max(id) FROM {table}").fetchone()
                next_ids[table] = max(sequence or 0, largest or 0) + 1
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return cls(connection, next_ids)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.statements.append((sql, rows))

    def take_ids(self, table: str, count: int) -> list[int]:
        first = self.next_ids[table]
        self.next_ids[table] = first + count
        return list(range(first, first + count))

    def commit(self) -> None:
        try:
            for sql, rows in self.statements:
                self.connection.executemany(sql, rows)
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        self.connection.execute("ROLLBACK")


class PgBatch:
    """PostgreSQL inserts sent as ONE statement: queued, then ``flush()``ed together.

    Each queued insert becomes ``INSERT ... SELECT ... FROM unnest($1::type[], ...)``, and
    all of them one statement of data-modifying CTEs: one round trip (plus one for new
    ids) instead of one per table. Ingest runs it inside a transaction whose COMMIT also
    waits for the blobs. Only inserts can be queued; the rows of one statement cannot see
    each other, which an ingest batch never needs.
    """

    dialect = SimpleNamespace(name="postgresql")

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.inserts: list[tuple[str, Sequence[str], list[tuple[Any, ...]], Sequence[str], str]] = []

    async def reserve_ids(self, table: str, count: int) -> list[int]:
        rows = await self.driver.fetch(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1::int)", count
        )
        return [int(r[0]) for r in rows]

    def queue(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], casts: Sequence[str], on_conflict: str
    ) -> None:
        self.inserts.append((table, columns, rows, casts, on_conflict))

    async def flush(self) -> None:
        if not self.inserts:
            return
        params: list[list[Any]] = []
        statements = []
        for table, columns, rows, casts, on_conflict in self.inserts:
            arrays, selected = [], []
            for index, (column, values) in enumerate(zip(columns, zip(*rows, strict=True), strict=True)):
                cast = casts[index] if index < len(casts) else ""
                params.append(list(values))
                # A cast column travels as text and is cast per element (jsonb, tsvector).
                arrays.append(f"${len(params)}::{'text' if cast else _array_type(table, column, values)}[]")
                selected.append(f"c{index}::{cast}" if cast else f"c{index}")
            aliases = ", ".join(f"c{i}" for i in range(len(columns)))
            statements.append(
                f"INSERT INTO {table} ({_names(columns)}) SELECT {', '.join(selected)} "
                f"FROM unnest({', '.join(arrays)}) AS u({aliases}) {on_conflict}"
            )
        *first, last = statements
        ctes = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first))
        await self.driver.execute(f"WITH {ctes} {last}" if ctes else last, *params)
        self.inserts = []


_PG_ARRAY_TYPES = {"INTEGER": "int4", "BIGINT": "int8", "SMALLINT": "int2", "BOOLEAN": "bool"}


def _array_type(table: str, column: str, values: Sequence[Any]) -> str:
    """The element type of a column's parameter array: from the table's model, else the values."""
    known = _model_array_type(table, column)
    if known is not None:
        return known
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, int):
        return "int8"
    if isinstance(sample, datetime):
        return "timestamptz"
    return "text"


@functools.cache
def _model_array_type(table: str, column: str) -> str | None:
    from sqlalchemy.dialects import postgresql

    from postroom.store.base import Base  # the models import this module

    model = Base.metadata.tables.get(table)
    if model is None or column not in model.columns:
        return None
    dialect: Any = postgresql.dialect()  # type: ignore[no-untyped-call]
    kind = str(model.columns[column].type.compile(dialect=dialect)).upper()
    return "timestamptz" if kind.startswith("TIMESTAMP") else _PG_ARRAY_TYPES.get(kind, "text")


Target = AsyncConnection | RawWriter | SqliteBatch | PgBatch


async def _executemany(target: Target, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if isinstance(target, PgBatch):
        raise TypeError("a PgBatch only queues inserts (see insert_many)")
    if isinstance(target, (RawWriter, SqliteBatch)):
        await target.executemany(sql, rows)
    else:
        await target.exec_driver_sql(sql, rows)


async def _fetch_ids(target: Target, sql: str, params: tuple[Any, ...]) -> list[int]:
    if isinstance(target, (SqliteBatch, PgBatch)):
        raise TypeError(f"a {type(target).__name__} runs its statements later and returns no rows")
    if isinstance(target, RawWriter):
        return await target.fetch_ids(sql, params)
    return [int(r[0]) for r in await target.exec_driver_sql(sql, params)]


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


_AS_IS = frozenset({str, int, float, bool, bytes, type(None)})


def _adapt(conn: Target, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    adapt = _adapt_sqlite if conn.dialect.name == "sqlite" else _adapt_postgres
    # Most values pass as they are: a type check instead of a call per value (ingest's hot path).
    return [tuple([v if type(v) in _AS_IS else adapt(v) for v in row]) for row in rows]


def _names(columns: Sequence[str]) -> str:
    # "to" is a reserved word; FTS5's rowid must stay unquoted.
    return ", ".join(c if c == "rowid" else f'"{c}"' for c in columns)


def _marks(conn: Target, count: int, start: int = 1, casts: Sequence[str] = ()) -> str:
    if conn.dialect.name == "sqlite":
        return ", ".join("?" * count)
    return ", ".join(f"${start + i}" + (f"::{casts[i]}" if i < len(casts) and casts[i] else "") for i in range(count))


async def insert_many(
    conn: Target,
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
    if isinstance(conn, PgBatch):
        conn.queue(table, columns, _adapt(conn, rows), casts, on_conflict)
        return
    quoted = _names(columns)
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({_marks(conn, len(columns), casts=casts)}) {on_conflict}"
    await _executemany(conn, sql, _adapt(conn, rows))


async def insert_returning_ids(
    conn: Target, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, casts: Sequence[str]
) -> list[int]:
    """Insert rows and return their new ids in the order of ``rows``."""
    if not rows:
        return []
    if isinstance(conn, SqliteBatch):
        ids = conn.take_ids(table, len(rows))
        await insert_many(conn, table, ["id", *columns], [(i, *row) for i, row in zip(ids, rows, strict=True)])
        return ids
    if isinstance(conn, PgBatch):
        ids = await conn.reserve_ids(table, len(rows))
        await insert_many(
            conn, table, ["id", *columns], [(i, *row) for i, row in zip(ids, rows, strict=True)], casts=["", *casts]
        )
        return ids
    if conn.dialect.name == "sqlite":
        return await _sqlite_returning_ids(conn, table, columns, rows)
    ids = await _fetch_ids(
        conn, f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {len(rows)})", ()
    )
    await insert_many(
        conn, table, ["id", *columns], [(i, *row) for i, row in zip(ids, rows, strict=True)], casts=["", *casts]
    )
    return ids


async def _sqlite_returning_ids(
    conn: Target, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    # One multi-row INSERT: SQLite gives an AUTOINCREMENT table's rows rising ids in the
    # order of the VALUES list, so sorting the returned ids restores the input order.
    quoted = _names(columns)
    per_statement = max(1, SQLITE_MAX_VARIABLES // len(columns))
    ids: list[int] = []
    for start in range(0, len(rows), per_statement):
        chunk = _adapt(conn, rows[start : start + per_statement])
        values = ", ".join([f"({_marks(conn, len(columns))})"] * len(chunk))
        ids += sorted(
            await _fetch_ids(
                conn,
                f"INSERT INTO {table} ({quoted}) VALUES {values} RETURNING id",
                tuple(v for row in chunk for v in row),
            )
        )
    return ids


async def update_many(
    conn: Target,
    table: str,
    columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
    *,
    casts: Sequence[str] = (),
) -> None:
    """Set ``columns`` per row, each row being the new values followed by the ``key`` value."""
    if not rows:
        return
    marks = _marks(conn, len(columns) + 1, casts=casts).split(", ")
    assignments = ", ".join(f'"{column}" = {mark}' for column, mark in zip(columns, marks, strict=False))
    sql = f'UPDATE {table} SET {assignments} WHERE "{key}" = {marks[-1]}'
    await _executemany(conn, sql, _adapt(conn, rows))


async def delete_many(conn: Target, table: str, key: str, values: Sequence[Any]) -> None:
    """Delete the rows whose ``key`` is one of ``values``."""
    if not values:
        return
    await _executemany(conn, f"DELETE FROM {table} WHERE {_names([key])} = {_marks(conn, 1)}", [(v,) for v in values])
