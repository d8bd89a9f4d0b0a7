"""Full-text search rows: SQLite FTS5 or a PostgreSQL tsvector with a GIN index.

Both engines index four columns (subject, sender, recipients, body). On PostgreSQL the
document is built here as a tsvector literal with one weight per column (A..D), so a
``from:`` term becomes a weight-restricted lexeme and both engines split words alike.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BindParameter, ColumnElement, TextClause, bindparam, literal_column, text
from sqlalchemy.ext.asyncio import AsyncConnection

from postroom.store import bulk
from postroom.store.models import Message
from postroom.store.query import TextTerm, index_words

COLUMNS = ("subject", "sender", "recipients", "body")
WEIGHTS = {"subject": "A", "sender": "B", "recipients": "C", "body": "D"}
MAX_INDEXED_CHARS = 200_000
MAX_POSITION = 16383
MAX_POSITIONS_PER_WORD = 255
COLUMN_GAP = 100  # keeps phrase matches from spanning two columns
HEADER_WEIGHTS = "{a,b,c}"  # must match the expression of ix_message_search_headers (migration 0004)
_bind_names = itertools.count()


@dataclass(frozen=True)
class SearchRow:
    message_id: int
    tenant_id: int
    subject: str
    sender: str
    recipients: str
    body: str = ""

    def values(self) -> dict[str, str]:
        return {
            "subject": self.subject[:MAX_INDEXED_CHARS],
            "sender": self.sender[:MAX_INDEXED_CHARS],
            "recipients": self.recipients[:MAX_INDEXED_CHARS],
            "body": self.body[:MAX_INDEXED_CHARS],
        }


def tsvector_literal(row: SearchRow) -> str:
    positions: dict[str, list[str]] = defaultdict(list)
    position = 1
    for column, value in row.values().items():
        weight = WEIGHTS[column]
        for word in index_words(value):
            if len(word) > 500:
                continue
            slots = positions[word]
            if len(slots) < MAX_POSITIONS_PER_WORD:
                slots.append(f"{min(position, MAX_POSITION)}{weight}")
            position += 1
        position += COLUMN_GAP
    return " ".join(f"'{word}':{','.join(slots)}" for word, slots in positions.items())


async def insert(conn: bulk.Target, rows: Sequence[SearchRow]) -> None:
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        await bulk.insert_many(
            conn,
            "message_search",
            ["rowid", *COLUMNS],
            [(r.message_id, *r.values().values()) for r in rows],
        )
    else:
        await bulk.insert_many(
            conn,
            "message_search",
            ["message_id", "tenant_id", "document"],
            [(r.message_id, r.tenant_id, tsvector_literal(r)) for r in rows],
            casts=["", "", "tsvector"],
            on_conflict="ON CONFLICT (message_id) DO UPDATE SET document = EXCLUDED.document",
        )


async def replace(conn: AsyncConnection, row: SearchRow) -> None:
    """Rewrite one message's search row (after the full parse found its body)."""
    if conn.dialect.name == "sqlite":
        await conn.execute(text("DELETE FROM message_search WHERE rowid = :id"), {"id": row.message_id})
    await insert(conn, [row])


def match_clause(dialect: str, terms: Sequence[TextTerm]) -> ColumnElement[bool]:
    """``messages.id IN (ids whose search row matches every term)``."""
    if dialect == "sqlite":
        name = f"fts_{next(_bind_names)}"  # unique: one query may hold several of these
        expression = " AND ".join(_fts5_term(term) for term in terms)
        sql = f"SELECT rowid FROM message_search WHERE message_search MATCH :{name}"
        subquery = text(sql).bindparams(bindparam(name, expression))
    else:
        condition, params = _tsquery_condition("message_search.document", terms)
        subquery = text(f"SELECT message_id FROM message_search WHERE {condition}").bindparams(*params)
    return Message.id.in_(subquery.columns(literal_column("id")))


def match_expression(dialect: str, terms: Sequence[TextTerm]) -> TextClause:
    """The match condition for a query whose FROM joins ``message_search`` itself."""
    if dialect == "sqlite":
        name = f"fts_{next(_bind_names)}"
        expression = " AND ".join(_fts5_term(term) for term in terms)
        return text(f"message_search MATCH :{name}").bindparams(bindparam(name, expression))
    condition, params = _tsquery_condition("message_search.document", terms)
    return text(condition).bindparams(*params)


async def matching_ids(
    conn: AsyncConnection, tenant_id: int, terms: Sequence[TextTerm], limit: int
) -> list[int] | None:
    """The ids of the tenant's messages matching every term, or None when more than ``limit`` do.

    Unordered, so a rare term is answered by the index and a common one stops after ``limit``
    rows. A search with a short answer then reads just these rows, instead of walking the
    search rows newest first and testing each one (PostgreSQL's pick whenever it overestimates
    how many rows a term matches, which it does for every word outside its statistics)."""
    cap = f"cap_{next(_bind_names)}"
    params: list[BindParameter[str]]
    if conn.dialect.name == "sqlite":
        name = f"fts_{next(_bind_names)}"
        sql = (
            # CROSS JOIN keeps FTS5 outside: otherwise SQLite walks the tenant's messages and runs
            # the match once for each of them.
            "SELECT messages.id FROM message_search CROSS JOIN messages ON messages.id = message_search.rowid "
            f"WHERE message_search MATCH :{name} AND messages.tenant_id = :tenant LIMIT :{cap}"
        )
        params = [bindparam(name, " AND ".join(_fts5_term(term) for term in terms))]
    else:
        condition, params = _tsquery_condition("document", terms)
        sql = f"SELECT message_id FROM message_search WHERE tenant_id = :tenant AND {condition} LIMIT :{cap}"
    statement = text(sql).bindparams(*params, bindparam("tenant", tenant_id), bindparam(cap, limit + 1))
    ids = list(await conn.scalars(statement))
    return ids if len(ids) <= limit else None


def has_match_clause(dialect: str, terms: Sequence[TextTerm]) -> TextClause:
    """The message's own search row matches every term: a lookup by id for each candidate row,
    for when another index (a tag) leads the scan and the terms match too many rows to list."""
    if dialect == "sqlite":
        name = f"fts_{next(_bind_names)}"
        expression = " AND ".join(_fts5_term(term) for term in terms)
        sql = (
            f"EXISTS (SELECT 1 FROM message_search WHERE message_search MATCH :{name} "
            "AND message_search.rowid = messages.id)"
        )
        return text(sql).bindparams(bindparam(name, expression))
    condition, params = _tsquery_condition("s.document", terms)
    sql = f"EXISTS (SELECT 1 FROM message_search AS s WHERE s.message_id = messages.id AND {condition})"
    return text(sql).bindparams(*params)


def no_match_clause(dialect: str, term: TextTerm) -> TextClause:
    """The message's search row does not match ``term`` (NOT EXISTS: NOT IN over a common
    word made PostgreSQL materialise every match)."""
    name = f"fts_{next(_bind_names)}"
    if dialect == "sqlite":
        sql = (
            f"NOT EXISTS (SELECT 1 FROM message_search WHERE message_search MATCH :{name} "
            "AND message_search.rowid = messages.id)"
        )
        expression = _fts5_term(term)
    else:
        sql = (
            "NOT EXISTS (SELECT 1 FROM message_search AS s WHERE s.message_id = messages.id "
            f"AND s.document @@ CAST(:{name} AS tsquery))"
        )
        expression = _tsquery_term(term)
    return text(sql).bindparams(bindparam(name, expression))


def _fts5_term(term: TextTerm) -> str:
    quoted = '"' + " ".join(term.words) + '"'
    if term.prefix:
        quoted += " *"
    return f"{term.column} : {quoted}" if term.column else quoted


def _tsquery_condition(document: str, terms: Sequence[TextTerm]) -> tuple[str, list[BindParameter[str]]]:
    """``document @@ query``. Terms bound to a header column (subject, from, to) test the header
    lexemes only, which ``ix_message_search_headers`` indexes: a phrase of two words common in
    bodies otherwise makes the GIN index return every message holding both anywhere."""
    header = [t for t in terms if t.column is not None and t.column != "body"]
    other = [t for t in terms if t not in header]
    parts: list[str] = []
    params: list[BindParameter[str]] = []
    for subset, target in ((header, f"ts_filter({document}, '{HEADER_WEIGHTS}')"), (other, document)):
        if subset:
            name = f"fts_{next(_bind_names)}"  # unique: one query may hold several of these
            parts.append(f"{target} @@ CAST(:{name} AS tsquery)")
            params.append(bindparam(name, " & ".join(f"({_tsquery_term(t)})" for t in subset)))
    return " AND ".join(parts), params


def _tsquery_term(term: TextTerm) -> str:
    weight = WEIGHTS[term.column] if term.column else ""
    joiner = " <-> " if term.phrase else " & "
    last = len(term.words) - 1
    parts = []
    for index, word in enumerate(term.words):
        star = "*" if term.prefix and index == last else ""
        suffix = f":{star}{weight}" if (star or weight) else ""
        parts.append(f"'{word}'{suffix}")
    return joiner.join(parts)
