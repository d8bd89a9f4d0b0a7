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

from sqlalchemy import ColumnElement, TextClause, bindparam, literal_column, text
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
    name = f"fts_{next(_bind_names)}"  # unique: one query may hold several of these
    if dialect == "sqlite":
        expression = " AND ".join(_fts5_term(term) for term in terms)
        sql = f"SELECT rowid FROM message_search WHERE message_search MATCH :{name}"
    else:
        expression = " & ".join(f"({_tsquery_term(term)})" for term in terms)
        sql = f"SELECT message_id FROM message_search WHERE document @@ CAST(:{name} AS tsquery)"
    subquery = text(sql).bindparams(bindparam(name, expression))
    return Message.id.in_(subquery.columns(literal_column("id")))


def match_expression(dialect: str, terms: Sequence[TextTerm]) -> TextClause:
    """The match condition for a query whose FROM joins ``message_search`` itself."""
    name = f"fts_{next(_bind_names)}"
    if dialect == "sqlite":
        expression = " AND ".join(_fts5_term(term) for term in terms)
        return text(f"message_search MATCH :{name}").bindparams(bindparam(name, expression))
    expression = " & ".join(f"({_tsquery_term(term)})" for term in terms)
    return text(f"message_search.document @@ CAST(:{name} AS tsquery)").bindparams(bindparam(name, expression))


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
