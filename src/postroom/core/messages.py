"""Reading, searching, tagging and deleting stored messages, always within one tenant."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    any_,
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    select,
    table,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from postroom.core import events
from postroom.core.events import EventHub, NewEvent
from postroom.core.ingest import normalise_tags
from postroom.core.parsing import ensure_parsed, ensure_tenant_parsed
from postroom.mime import Part, extract_part
from postroom.store import blobs as blob_index
from postroom.store import compaction, counters, search
from postroom.store.blobs import BlobNotFound, BlobStore
from postroom.store.models import Message, MessageBody, MessageTag
from postroom.store.query import SearchQuery

MAX_PAGE = 500
TOTAL_CAP = 1_000
# Text terms matching at most this many of a tenant's messages are looked up first, and the page
# and count then read just those rows. At least TOTAL_CAP: more means the total is capped.
FEW_TEXT_MATCHES = TOTAL_CAP
Ids = list[int]  # the class below has a method named list
DELETE_CHUNK = 500


class MessageNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Selection:
    source: Any  # the table or join the scan starts from
    order: Any  # the id column that orders it (newest first)
    clauses: list[Any]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int
    unread: int
    total_capped: bool = False  # True: at least ``total`` messages match


def encode_cursor(message_id: int) -> str:
    return base64.urlsafe_b64encode(str(message_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not one this API returned") from exc


def summary_json(row: Any, tags: Sequence[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "subject": row.subject,
        "from": {"name": row.from_name, "address": row.from_address},
        "to": row.to,
        "cc": row.cc,
        "bcc": row.bcc,
        "reply_to": row.reply_to,
        "envelope": {"from": row.envelope_from, "to": row.envelope_to},
        "date": row.sent_at.isoformat() if row.sent_at else None,
        "received_at": row.received_at.isoformat(),
        "size": row.size,
        "is_read": row.is_read,
        "tags": list(tags),
        "has_attachments": row.has_attachments,
        "snippet": row.snippet,
        "flags": row.flags,
        "source": row.source,
        "parsed": row.parse_state != 0,
    }


class MessageService:
    def __init__(self, engine: AsyncEngine, blobs: BlobStore, hub: EventHub | None = None) -> None:
        self.engine = engine
        self.blobs = blobs
        self.hub = hub

    # ---- reading -------------------------------------------------------------------
    def _filters(
        self,
        tenant_id: int,
        query: SearchQuery,
        *,
        drive: bool = False,
        text_ids: Ids | None = None,
        common_text: bool = False,
    ) -> Selection:
        """The rows a search selects. With ``drive``, the most selective index leads the scan in id
        order (FTS5 or a tag), so a page or a capped count stops early instead of first collecting
        every match of a common word (seconds at a million messages). ``text_ids``: every message
        the text terms match, already looked up (see ``search.matching_ids``); ``common_text``:
        that lookup found too many to list."""
        dialect = self.engine.dialect.name
        source: Any = Message
        order: Any = Message.id
        clauses: list[Any] = [Message.tenant_id == tenant_id]
        tags = list(query.tags)
        text_check = None
        if query.include and text_ids is not None:
            if dialect == "sqlite":
                clauses.append(Message.id.in_(text_ids))
            else:
                clauses.append(Message.id == any_(bindparam("text_ids", text_ids, type_=ARRAY(BigInteger))))
        elif query.include and not drive:
            clauses.append(search.match_clause(dialect, query.include))
        elif query.include and not (common_text and tags):
            key = "rowid" if dialect == "sqlite" else "message_id"
            fts = table("message_search", column(key, Integer))
            source, order = fts.join(Message, Message.id == fts.c[key]), fts.c[key]
            clauses.append(search.match_expression(dialect, query.include))
        elif query.include:
            # The text terms match too many messages to list: a tag (or, next to one, the smaller
            # attachment index), far rarer once the terms are common, leads the scan and each
            # candidate's search row is looked up.
            text_check = search.has_match_clause(dialect, query.include)
        if tags and drive and (not query.include or (common_text and not query.has_attachment)):
            tag = tags.pop(0)
            source = MessageTag.__table__.join(Message, Message.id == MessageTag.message_id)
            order = MessageTag.message_id
            clauses += [MessageTag.tenant_id == tenant_id, MessageTag.tag == tag]
        for term in query.exclude:
            clauses.append(search.no_match_clause(dialect, term))
        for tag in tags:
            clauses.append(_has_tag(tenant_id, tag))
        for tag in query.without_tags:
            clauses.append(~_has_tag(tenant_id, tag))
        if query.is_read is not None:
            clauses.append(Message.is_read == query.is_read)
        if query.has_attachment is not None:
            clauses.append(Message.has_attachments == query.has_attachment)
        if query.before is not None:
            clauses.append(Message.received_at < query.before)
        if query.after is not None:
            clauses.append(Message.received_at >= query.after)
        if query.message_id is not None:
            clauses.append(Message.message_id == query.message_id)
        if text_check is not None:
            clauses.append(text_check)  # last: SQLite tests the cheap filters first
        return Selection(source, order, clauses)

    async def list(self, tenant_id: int, query: SearchQuery, *, limit: int = 50, cursor: str | None = None) -> Page:
        limit = max(1, min(limit, MAX_PAGE))
        if query.needs_bodies:
            await ensure_tenant_parsed(self.engine, self.blobs, tenant_id)
        async with self.engine.connect() as conn:
            text_ids = None
            if query.include:
                text_ids = await search.matching_ids(conn, tenant_id, query.include, FEW_TEXT_MATCHES)
            common_text = bool(query.include) and text_ids is None
            chosen = self._filters(tenant_id, query, drive=True, text_ids=text_ids, common_text=common_text)
            page_clauses = list(chosen.clauses)
            if cursor:
                page_clauses.append(chosen.order < decode_cursor(cursor))
            rows = list(
                await conn.execute(
                    select(Message)
                    .select_from(chosen.source)
                    .where(*page_clauses)
                    .order_by(chosen.order.desc())
                    .limit(limit + 1)
                )
            )
            more = len(rows) > limit
            rows = rows[:limit]
            tags = await _tags_for(conn, [r.id for r in rows])
            stored, unread = await counters.read(conn, tenant_id)
            capped = False
            if query.is_empty:
                total = stored
            elif query == SearchQuery(is_read=False):
                total = unread
            elif not cursor and not more:
                total = len(rows)  # the whole answer is on this page: nothing more to count
            elif query == SearchQuery(include=query.include):  # text terms only: the lookup above counted
                total, capped = (TOTAL_CAP, True) if text_ids is None else (len(text_ids), False)
            else:
                # Counting every match of a common word in a million messages takes seconds;
                # past TOTAL_CAP the answer says "at least" instead.
                # Ordered like the page, so the leading index drives this scan too.
                matches = select(chosen.order).select_from(chosen.source).where(*chosen.clauses)
                capped_matches = matches.order_by(chosen.order.desc()).limit(TOTAL_CAP + 1).subquery()
                total = int(await conn.scalar(select(func.count()).select_from(capped_matches)) or 0)
                capped = total > TOTAL_CAP
                total = min(total, TOTAL_CAP)
        if not cursor and not more:
            # The whole result is on this page: count it, so the total always agrees with the
            # items even when a message was committed between the two statements above.
            total, capped = len(rows), False
        return Page(
            items=[summary_json(r, tags.get(r.id, [])) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
            total=total,
            unread=unread,
            total_capped=capped,
        )

    async def _row(self, conn: AsyncConnection, tenant_id: int, message_id: int) -> Any:
        row = (
            await conn.execute(select(Message).where(Message.id == message_id, Message.tenant_id == tenant_id))
        ).first()
        if row is None:
            raise MessageNotFound(message_id)
        return row

    async def get(self, tenant_id: int, message_id: int) -> dict[str, Any]:
        await ensure_parsed(self.engine, self.blobs, tenant_id, [message_id])
        async with self.engine.connect() as conn:
            row = await self._row(conn, tenant_id, message_id)
            body = (await conn.execute(select(MessageBody).where(MessageBody.message_id == message_id))).first()
            tags = await _tags_for(conn, [message_id])
        detail = summary_json(row, tags.get(message_id, []))
        detail.update(
            text=body.text if body else "",
            html=body.html if body else "",
            headers=[{"name": n, "value": v} for n, v in (body.headers if body else [])],
            attachments=[a for a in (body.attachments if body else []) if not a["is_inline"]],
            inline=[a for a in (body.attachments if body else []) if a["is_inline"]],
        )
        return detail

    async def raw(self, tenant_id: int, message_id: int) -> bytes:
        async with self.engine.connect() as conn:
            row = await self._row(conn, tenant_id, message_id)
            found = await blob_index.locate(conn, [row.blob_sha256])
        if row.blob_sha256 not in found:
            raise BlobNotFound(row.blob_sha256)
        return await compaction.read_relocating(self.engine, self.blobs, found[row.blob_sha256])

    async def attachment(self, tenant_id: int, message_id: int, index: int) -> tuple[Part, bytes]:
        found = extract_part(await self.raw(tenant_id, message_id), index)
        if found is None:
            raise MessageNotFound(f"{message_id}/{index}")
        return found

    # ---- changing ------------------------------------------------------------------
    async def update(
        self,
        tenant_id: int,
        message_id: int,
        *,
        is_read: bool | None = None,
        tags: Sequence[str] | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        async with self.engine.begin() as conn:
            await self._row(conn, tenant_id, message_id)
            await self._apply(conn, tenant_id, [message_id], is_read, tags, add_tags, remove_tags)
        await self._published()
        async with self.engine.connect() as conn:
            row = await self._row(conn, tenant_id, message_id)
            current = await _tags_for(conn, [message_id])
        return summary_json(row, current.get(message_id, []))

    async def update_many(
        self,
        tenant_id: int,
        ids: Sequence[int],
        *,
        is_read: bool | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> int:
        async with self.engine.begin() as conn:
            found = list(
                await conn.scalars(select(Message.id).where(Message.tenant_id == tenant_id, Message.id.in_(list(ids))))
            )
            await self._apply(conn, tenant_id, found, is_read, None, add_tags, remove_tags)
        await self._published()
        return len(found)

    async def _apply(
        self,
        conn: AsyncConnection,
        tenant_id: int,
        ids: Ids,
        is_read: bool | None,
        tags: Sequence[str] | None,
        add_tags: Sequence[str],
        remove_tags: Sequence[str],
    ) -> None:
        if not ids:
            return
        if is_read is not None:
            changed = await conn.execute(
                update(Message).where(Message.id.in_(ids), Message.is_read.is_not(is_read)).values(is_read=is_read)
            )
            flipped = int(changed.rowcount)
            await counters.add(conn, {tenant_id: (0, -flipped if is_read else flipped)})
        if tags is not None:
            await conn.execute(delete(MessageTag).where(MessageTag.message_id.in_(ids)))
            add_tags = [*tags, *add_tags]
        if remove_tags:
            await conn.execute(
                delete(MessageTag).where(MessageTag.message_id.in_(ids), MessageTag.tag.in_(list(remove_tags)))
            )
        wanted = normalise_tags(add_tags)
        if wanted:
            existing = await _tags_for(conn, ids)
            rows = [
                {"message_id": mid, "tag": tag, "tenant_id": tenant_id}
                for mid in ids
                for tag in wanted
                if tag not in existing.get(mid, [])
            ]
            if rows:
                await conn.execute(insert(MessageTag), rows)
        current_tags = await _tags_for(conn, ids)
        read_state = dict((await conn.execute(select(Message.id, Message.is_read).where(Message.id.in_(ids)))).all())
        await events.append(
            conn,
            [
                NewEvent(
                    tenant_id,
                    "message.updated",
                    mid,
                    {"id": mid, "is_read": read_state[mid], "tags": current_tags.get(mid, [])},
                )
                for mid in ids
            ],
        )

    async def delete(self, tenant_id: int, message_id: int) -> None:
        if not await self.delete_ids(tenant_id, [message_id]):
            raise MessageNotFound(message_id)

    async def delete_ids(self, tenant_id: int, ids: Sequence[int]) -> int:
        return await self._delete_where(tenant_id, Message.id.in_(list(ids)))

    async def delete_matching(self, tenant_id: int, query: SearchQuery) -> int:
        if query.needs_bodies:
            await ensure_tenant_parsed(self.engine, self.blobs, tenant_id)
        clauses = self._filters(tenant_id, query).clauses
        return (
            await self._delete_where(tenant_id, *clauses[1:])
            if len(clauses) > 1
            else (await self._delete_where(tenant_id, true()))
        )

    async def _delete_where(self, tenant_id: int, *where: ColumnElement[bool]) -> int:
        deleted = 0
        digests: set[str] = set()
        while True:
            async with self.engine.begin() as conn:
                rows = list(
                    await conn.execute(
                        select(Message.id, Message.blob_sha256, Message.is_read)
                        .where(Message.tenant_id == tenant_id, *where)
                        .limit(DELETE_CHUNK)
                    )
                )
                if not rows:
                    break
                ids = [r.id for r in rows]
                digests.update(r.blob_sha256 for r in rows)
                await conn.execute(delete(Message).where(Message.id.in_(ids)))
                unread = sum(1 for r in rows if not r.is_read)
                await counters.add(conn, {tenant_id: (-len(rows), -unread)})
                await events.append(conn, [NewEvent(tenant_id, "message.deleted", None, {"ids": ids})])
            deleted += len(ids)
        if deleted:
            await self._published()
            await self.collect_blobs(digests)
        return deleted

    async def collect_blobs(self, digests: set[str]) -> None:
        """Forget blobs no message refers to any more, delete segments left with none, compact mostly dead ones."""
        async with self.engine.begin() as conn:
            if digests:
                await blob_index.forget_unreferenced(conn, digests, Message)
            live = await blob_index.live_segments(conn)
        for segment in self.blobs.deletable_segments(live):
            self.blobs.delete_segment(segment)
        await compaction.compact_in_passing(self.engine, self.blobs)

    async def _published(self) -> None:
        if self.hub is not None:
            await self.hub.published()


def _has_tag(tenant_id: int, tag: str) -> ColumnElement[bool]:
    # A probe of the (message_id, tag) primary key per candidate row; a lone tag filter
    # instead leads the scan through the (tenant_id, tag, message_id) index (see _filters).
    other = aliased(MessageTag)  # message_tags may already lead the query's FROM
    return exists().where(other.message_id == Message.id, other.tag == tag)


async def _tags_for(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        rows = await conn.execute(
            select(MessageTag.message_id, MessageTag.tag)
            .where(MessageTag.message_id.in_(list(ids)))
            .order_by(MessageTag.message_id, MessageTag.tag)
        )
        for message_id, tag in rows:
            found[message_id].append(tag)
    return found
