"""The message store on both engines: ingest, immediate search, full parse, tags, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, insert, select

from postroom.auth.service import AuthService
from postroom.config import Settings
from postroom.core.events import EventHub, read_after
from postroom.core.ingest import Incoming, Ingestor
from postroom.core.messages import TOTAL_CAP, MessageNotFound, MessageService
from postroom.core.parsing import parse_pending
from postroom.store import blobs as blob_index
from postroom.store.blobs import Blob, BlobStore
from postroom.store.engine import create_engine
from postroom.store.models import Message, ParseState
from postroom.store.query import parse_query


@dataclass
class Stack:
    ingestor: Ingestor
    messages: MessageService
    blobs: BlobStore
    tenant: int
    other_tenant: int


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    engine = create_engine(settings.resolved_database_url)
    blobs = BlobStore(settings.blob_dir, fsync=False)
    hub = EventHub(engine)
    ingestor = Ingestor(engine, blobs, hub)
    await ingestor.start()
    auth = AuthService(engine, settings)
    tenant = await auth.ensure_default_tenant()
    other = (await auth.create_tenant("other", "Other"))["id"]
    yield Stack(ingestor, MessageService(engine, blobs, hub), blobs, tenant, other)
    await ingestor.stop()
    await engine.dispose()


async def indexed(stack: Stack, digest: str) -> bool:
    async with stack.messages.engine.connect() as conn:
        return digest in await blob_index.locate(conn, [digest])


def mail(
    subject: str, sender: str = "Alice <alice@example.com>", to: str = "bob@example.org", body: str = "Hi"
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{abs(hash(subject))}@example.com>\r\n"
        f"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nX-Tags: alpha, beta\r\n\r\n{body}\r\n"
    ).encode()


async def test_ingest_is_immediately_searchable_by_header_fields(stack: Stack) -> None:
    raw = mail("Welcome aboard", body="the magic word is xylophone")
    stored = await stack.ingestor.ingest(Incoming(raw=raw, tenant_id=stack.tenant, envelope_to=("bob@example.org",)))
    for query in ("subject:welcome", "from:alice@example.com", "to:bob", "aboard", "tag:alpha"):
        page = await stack.messages.list(stack.tenant, parse_query(query))
        assert [m["id"] for m in page.items] == [stored.id], query
    # The raw bytes come back exactly as received.
    assert await stack.messages.raw(stack.tenant, stored.id) == raw


async def test_body_search_parses_pending_messages_first(stack: Stack) -> None:
    stored = await stack.ingestor.ingest(Incoming(raw=mail("Plain", body="xylophone"), tenant_id=stack.tenant))
    page = await stack.messages.list(stack.tenant, parse_query("xylophone"))
    assert [m["id"] for m in page.items] == [stored.id]
    detail = await stack.messages.get(stack.tenant, stored.id)
    assert detail["parsed"] is True
    assert "xylophone" in detail["text"]


async def test_group_commit_of_concurrent_messages(stack: Stack) -> None:
    results = await asyncio.gather(
        *(stack.ingestor.ingest(Incoming(raw=mail(f"Message {i}"), tenant_id=stack.tenant)) for i in range(60))
    )
    assert len({r.id for r in results}) == 60
    page = await stack.messages.list(stack.tenant, parse_query(""), limit=500)
    assert page.total == 60


async def test_every_row_of_a_group_commit_points_at_its_own_message(stack: Stack) -> None:
    # One batch, one statement: each message's id reaches its tags, its search entry and
    # its message.received event (PostgreSQL draws the ids inside that statement).
    stored = await stack.ingestor.ingest_many(
        [Incoming(raw=mail(f"Batch {n}"), tenant_id=stack.tenant, tags=(f"n{n}",)) for n in range(5)]
    )
    ids = [s.id for s in stored]
    assert ids == sorted(ids) and len(set(ids)) == 5
    for n, message_id in enumerate(ids):
        message = await stack.messages.get(stack.tenant, message_id)
        assert message["subject"] == f"Batch {n}"
        assert sorted(message["tags"]) == ["alpha", "beta", f"n{n}"]
        (found,) = (await stack.messages.list(stack.tenant, parse_query(f'subject:"Batch {n}"'))).items
        assert found["id"] == message_id
        assert [m["id"] for m in (await stack.messages.list(stack.tenant, parse_query(f"tag:n{n}"))).items] == [
            message_id
        ]
    async with stack.messages.engine.connect() as conn:
        received = [e for e in await read_after(conn, stack.tenant, 0) if e.type == "message.received"]
    assert [(e.subject_id, e.payload["id"], e.payload["subject"]) for e in received] == [
        (message_id, message_id, f"Batch {n}") for n, message_id in enumerate(ids)
    ]


async def test_group_commits_and_bulk_imports_at_the_same_time(stack: Stack) -> None:
    def batch(name: str) -> list[Incoming]:
        return [Incoming(raw=mail(f"{name} {i}"), tenant_id=stack.tenant) for i in range(15)]

    results = await asyncio.gather(
        stack.ingestor.ingest_many(batch("Import a")),
        *(stack.ingestor.ingest(Incoming(raw=mail(f"Live {i}"), tenant_id=stack.tenant)) for i in range(20)),
        stack.ingestor.ingest_many(batch("Import b")),
    )
    stored = [*results[0], *results[1:-1], *results[-1]]
    assert len({s.id for s in stored}) == 50
    page = await stack.messages.list(stack.tenant, parse_query(""), limit=100)
    assert sorted(m["id"] for m in page.items) == sorted(s.id for s in stored)


async def test_an_id_is_never_given_twice_even_after_a_delete(stack: Stack) -> None:
    first = await stack.ingestor.ingest_many(
        [Incoming(raw=mail(f"Early {i}"), tenant_id=stack.tenant) for i in range(3)]
    )
    assert [s.id for s in first] == sorted(s.id for s in first)
    await stack.messages.delete(stack.tenant, first[-1].id)
    later = await stack.ingestor.ingest(Incoming(raw=mail("Later"), tenant_id=stack.tenant))
    assert later.id > first[-1].id
    assert (await stack.messages.get(stack.tenant, later.id))["subject"] == "Later"


async def test_event_readers_hear_of_the_last_commit_of_a_burst(stack: Stack) -> None:
    hub = stack.ingestor.hub
    assert hub is not None

    async def woken_after(seen: int) -> None:
        async with asyncio.timeout(5):
            while hub.generation == seen:
                await hub.wait(seen)

    seen = hub.generation
    await stack.ingestor.ingest(Incoming(raw=mail("Burst 1"), tenant_id=stack.tenant))
    await woken_after(seen)
    seen = hub.generation
    await stack.ingestor.ingest(Incoming(raw=mail("Burst 2"), tenant_id=stack.tenant))
    await woken_after(seen)  # right after a wake the next one is held back briefly, never dropped
    async with stack.messages.engine.connect() as conn:
        assert len(await read_after(conn, stack.tenant, 0)) == 2


async def test_cursor_pagination_walks_every_message_once(stack: Stack) -> None:
    await stack.ingestor.ingest_many([Incoming(raw=mail(f"Page {i}"), tenant_id=stack.tenant) for i in range(23)])
    seen: list[int] = []
    cursor = None
    while True:
        page = await stack.messages.list(stack.tenant, parse_query(""), limit=10, cursor=cursor)
        assert page.total == 23
        seen += [m["id"] for m in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 23 and seen == sorted(seen, reverse=True)


async def test_tenants_never_see_each_other(stack: Stack) -> None:
    mine = await stack.ingestor.ingest(Incoming(raw=mail("Secret plans"), tenant_id=stack.tenant))
    assert (await stack.messages.list(stack.other_tenant, parse_query("secret"))).total == 0
    with pytest.raises(MessageNotFound):
        await stack.messages.get(stack.other_tenant, mine.id)
    with pytest.raises(MessageNotFound):
        await stack.messages.delete(stack.other_tenant, mine.id)
    assert (await stack.messages.delete_matching(stack.other_tenant, parse_query(""))) == 0
    assert (await stack.messages.list(stack.tenant, parse_query(""))).total == 1


async def test_tags_read_state_and_events(stack: Stack) -> None:
    stored = await stack.ingestor.ingest(Incoming(raw=mail("Tag me"), tenant_id=stack.tenant, tags=("signup",)))
    updated = await stack.messages.update(stack.tenant, stored.id, is_read=True, add_tags=["vip"], remove_tags=["beta"])
    assert updated["is_read"] is True
    assert updated["tags"] == ["alpha", "signup", "vip"]
    assert [m["id"] for m in (await stack.messages.list(stack.tenant, parse_query("tag:vip is:read"))).items] == [
        stored.id
    ]
    assert (await stack.messages.list(stack.tenant, parse_query("is:unread"))).total == 0
    async with stack.messages.engine.connect() as conn:
        types = [e.type for e in await read_after(conn, stack.tenant, 0)]
    assert types == ["message.received", "message.updated"]


async def test_delete_by_query_removes_rows_search_entries_and_unshared_blobs(stack: Stack) -> None:
    keep = await stack.ingestor.ingest(Incoming(raw=mail("Keep me"), tenant_id=stack.tenant))
    drop = await stack.ingestor.ingest(Incoming(raw=mail("Drop me"), tenant_id=stack.tenant))
    # The same bytes stored by another tenant share the blob, which must survive.
    await stack.ingestor.ingest(Incoming(raw=mail("Drop me"), tenant_id=stack.other_tenant))
    assert await stack.messages.delete_matching(stack.tenant, parse_query("subject:drop")) == 1
    assert [m["id"] for m in (await stack.messages.list(stack.tenant, parse_query("me"))).items] == [keep.id]
    assert await indexed(stack, drop.blob_sha256)
    assert await stack.messages.delete_matching(stack.other_tenant, parse_query("")) == 1
    assert not await indexed(stack, drop.blob_sha256)


async def test_a_blob_stays_indexed_when_its_last_message_goes_while_a_copy_commits(stack: Stack) -> None:
    """Deleting the last message of a digest while the same bytes are being committed again
    must not drop the index row the new message relies on."""
    first = await stack.ingestor.ingest(Incoming(raw=mail("Twice"), tenant_id=stack.tenant))
    engine = stack.messages.engine
    async with engine.connect() as conn:
        # An ingest in flight: the same bytes written again, its index row and message row,
        # not committed yet.
        transaction = await conn.begin()
        (ref,) = await asyncio.to_thread(stack.blobs.append, [(mail("Twice"), first.blob_sha256)])
        await blob_index.record(conn, [ref])
        row = dict((await conn.execute(select(Message.__table__).where(Message.id == first.id))).mappings().one())
        row.pop("id")
        copy = (await conn.execute(insert(Message).values(**row).returning(Message.id))).scalar_one()
        deleting = asyncio.create_task(stack.messages.delete(stack.tenant, first.id))
        await asyncio.sleep(0.5)  # the delete reaches the index while the copy is uncommitted
        await transaction.commit()
        await deleting
    assert await indexed(stack, first.blob_sha256)
    assert await stack.messages.raw(stack.tenant, copy) == mail("Twice")


async def test_malformed_message_is_stored_raw_and_flagged(stack: Stack) -> None:
    raw = b"\x00\xff garbage without headers \x80\r\n\r\n\xfe"
    stored = await stack.ingestor.ingest(Incoming(raw=raw, tenant_id=stack.tenant))
    assert await stack.messages.raw(stack.tenant, stored.id) == raw
    detail = await stack.messages.get(stack.tenant, stored.id)
    assert detail["flags"], "a malformed message carries the problems found"


async def test_parse_sweep_fills_bodies_and_attachment_flag(stack: Stack) -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: With file\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee file\r\n'
        b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
    )
    stored = await stack.ingestor.ingest(Incoming(raw=raw, tenant_id=stack.tenant))
    engine = stack.messages.engine
    assert await parse_pending(engine, stack.blobs, Message.id > 0, 10) == 1
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Message).where(Message.has_attachments)) == 1
    detail = await stack.messages.get(stack.tenant, stored.id)
    assert [a["filename"] for a in detail["attachments"]] == ["report.pdf"]
    part, data = await stack.messages.attachment(stack.tenant, stored.id, detail["attachments"][0]["index"])
    assert part.content_type == "application/pdf"
    assert data == b"%PDF-1.4\n"
    assert (await stack.messages.list(stack.tenant, parse_query("has:attachment"))).total == 1


async def test_one_sweep_writes_a_whole_batch_of_mixed_outcomes(stack: Stack) -> None:
    plain = await stack.ingestor.ingest_many(
        [Incoming(raw=mail(f"Batch {i}", body=f"marimba{i} shared words"), tenant_id=stack.tenant) for i in range(25)]
    )
    attached = await stack.ingestor.ingest(
        Incoming(
            raw=(
                b"From: a@example.com\r\nSubject: Attached\r\nMIME-Version: 1.0\r\n"
                b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n'
                b"shared words\r\n--B\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; "
                b"filename=data.csv\r\n\r\na,b\r\n--B--\r\n"
            ),
            tenant_id=stack.tenant,
        )
    )
    lost = await stack.ingestor.ingest(Incoming(raw=mail("Blob gone", body="shared words"), tenant_id=stack.tenant))
    engine = stack.messages.engine
    async with engine.begin() as conn:
        await conn.execute(delete(Blob).where(Blob.digest == lost.blob_sha256))

    assert await parse_pending(engine, stack.blobs, Message.id > 0, 100) == 27
    assert await parse_pending(engine, stack.blobs, Message.id > 0, 100) == 0

    async def ids(query: str) -> set[int]:
        return {m["id"] for m in (await stack.messages.list(stack.tenant, parse_query(query), limit=100)).items}

    assert await ids("shared") == {m.id for m in [*plain, attached]}
    assert await ids("marimba7") == {plain[7].id}
    assert await ids("has:attachment") == {attached.id}
    assert await ids("subject:batch") == {m.id for m in plain}  # the header fields survive the search rewrite
    first = await stack.messages.get(stack.tenant, plain[0].id)
    assert (first["parsed"], first["snippet"], first["flags"]) == (True, "marimba0 shared words", [])
    assert [h["name"] for h in first["headers"]][:3] == ["From", "To", "Subject"]
    file = await stack.messages.get(stack.tenant, attached.id)
    assert (file["has_attachments"], [a["filename"] for a in file["attachments"]]) == (True, ["data.csv"])
    gone = await stack.messages.get(stack.tenant, lost.id)
    assert (gone["parsed"], gone["flags"], gone["text"]) == (True, ["blob-missing"], "")
    async with engine.connect() as conn:
        states = dict((await conn.execute(select(Message.id, Message.parse_state))).all())
    assert states[lost.id] == ParseState.FAILED
    assert {states[m.id] for m in [*plain, attached]} == {ParseState.PARSED}


async def test_a_message_parsed_meanwhile_is_not_written_twice(stack: Stack) -> None:
    stored = await stack.ingestor.ingest_many(
        [Incoming(raw=mail(f"Twice {i}", body="ocarina"), tenant_id=stack.tenant) for i in range(3)]
    )
    await stack.messages.get(stack.tenant, stored[1].id)  # a read parses it on demand
    assert await parse_pending(stack.messages.engine, stack.blobs, Message.id > 0, 10) == 2
    page = await stack.messages.list(stack.tenant, parse_query("ocarina"))
    assert sorted(m["id"] for m in page.items) == [m.id for m in stored]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_read_waits_for_a_parse_in_progress_rather_than_show_an_empty_body(stack: Stack) -> None:
    """On PostgreSQL the sweeper locks the rows it parses; a read arriving meanwhile must not
    take "someone else has it" for "parsed"."""
    stored = await stack.ingestor.ingest(Incoming(raw=mail("Locked", body="bassoon"), tenant_id=stack.tenant))
    engine = stack.messages.engine
    async with engine.begin() as sweeper:  # holds the row as a sweep in progress does
        await sweeper.execute(select(Message.id).where(Message.id == stored.id).with_for_update())
        reading = asyncio.create_task(stack.messages.get(stack.tenant, stored.id))
        searching = asyncio.create_task(stack.messages.list(stack.tenant, parse_query("bassoon")))
        await asyncio.sleep(0.5)
        assert not reading.done() and not searching.done()
    async with asyncio.timeout(10):
        detail, page = await reading, await searching
    assert detail["parsed"] is True and "bassoon" in detail["text"]
    assert [m["id"] for m in page.items] == [stored.id]


async def test_text_and_excluded_terms_combine(stack: Stack) -> None:
    both = await stack.ingestor.ingest(Incoming(raw=mail("alpha beta", body="x"), tenant_id=stack.tenant))
    only = await stack.ingestor.ingest(Incoming(raw=mail("alpha gamma", body="x"), tenant_id=stack.tenant))
    for query, expected in (
        ("alpha -beta", [only.id]),
        ("alpha -subject:gamma", [both.id]),
        ("subject:alpha -beta -gamma", []),
        ("alpha beta", [both.id]),
    ):
        assert [m["id"] for m in (await stack.messages.list(stack.tenant, parse_query(query))).items] == expected, query


@pytest.mark.parametrize("query", ["shared", "tag:batch", "tag:batch shared", "shared is:unread", "tag:batch -tag:odd"])
async def test_searches_page_newest_first_without_repeats(stack: Stack, query: str) -> None:
    made = []
    for i in range(7):
        tags = ("batch", "odd") if i % 2 else ("batch",)
        made.append(await stack.ingestor.ingest(Incoming(raw=mail(f"shared {i}"), tenant_id=stack.tenant, tags=tags)))
    await stack.ingestor.ingest(Incoming(raw=mail("unrelated"), tenant_id=stack.tenant))
    await stack.ingestor.ingest(Incoming(raw=mail("shared elsewhere"), tenant_id=stack.other_tenant, tags=("batch",)))
    expected = [m.id for m in reversed(made) if query != "tag:batch -tag:odd" or made.index(m) % 2 == 0]
    seen: list[int] = []
    cursor = None
    while True:
        page = await stack.messages.list(stack.tenant, parse_query(query), limit=2, cursor=cursor)
        assert page.total == len(expected) and not page.total_capped
        seen += [m["id"] for m in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == expected


def with_file(subject: str, body: str) -> bytes:
    return (
        f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n{body}\r\n'
        "--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
    ).encode()


async def test_searches_over_a_word_in_more_messages_than_the_total_cap(stack: Stack) -> None:
    tagged, attached = {7, 500, 1003}, {3, 500, 1003, 1005}
    stored = await stack.ingestor.ingest_many(
        [
            Incoming(
                raw=with_file(f"common {i}", "plenty") if i in attached else mail(f"common {i}", body="plenty"),
                tenant_id=stack.tenant,
                tags=("rare",) if i in tagged else (),
            )
            for i in range(TOTAL_CAP + 10)
        ]
    )
    newest_first = [s.id for s in reversed(stored)]
    page = await stack.messages.list(stack.tenant, parse_query("common"), limit=50)
    assert (page.total, page.total_capped) == (TOTAL_CAP, True)
    assert [m["id"] for m in page.items] == newest_first[:50]
    expected = {
        "common tag:rare": [stored[i].id for i in sorted(tagged, reverse=True)],
        "tag:rare subject:common": [stored[i].id for i in sorted(tagged, reverse=True)],
        "tag:rare plenty is:unread": [stored[i].id for i in sorted(tagged, reverse=True)],
        "common tag:rare has:attachment": [stored[i].id for i in sorted(tagged & attached, reverse=True)],
        "plenty has:attachment": [stored[i].id for i in sorted(attached, reverse=True)],
    }
    for query, ids in expected.items():
        seen: list[int] = []
        cursor = None
        while True:
            page = await stack.messages.list(stack.tenant, parse_query(query), limit=2, cursor=cursor)
            assert (page.total, page.total_capped) == (len(ids), False), query
            seen += [m["id"] for m in page.items]
            if (cursor := page.next_cursor) is None:
                break
        assert seen == ids, query
    unrelated = await stack.messages.list(stack.tenant, parse_query("common -tag:rare is:unread"), limit=5)
    assert (unrelated.total, unrelated.total_capped) == (TOTAL_CAP, True)
    rare = expected["common tag:rare"]
    assert [m["id"] for m in unrelated.items] == [i for i in newest_first if i not in rare][:5]


async def test_header_terms_ignore_the_same_words_in_the_body(stack: Stack) -> None:
    in_subject = await stack.ingestor.ingest(
        Incoming(raw=mail("quarterly report due", body="nothing here"), tenant_id=stack.tenant)
    )
    in_body = await stack.ingestor.ingest(
        Incoming(raw=mail("something else", body="quarterly report attached, from carol"), tenant_id=stack.tenant)
    )
    await parse_pending(stack.messages.engine, stack.blobs, Message.id > 0, 10)
    for query, expected in (
        ('subject:"quarterly report"', [in_subject.id]),
        ('"quarterly report"', [in_body.id, in_subject.id]),
        ("subject:quarterly report", [in_subject.id]),
        ("from:carol", []),
        ("carol", [in_body.id]),
        ('subject:"report quarterly"', []),
    ):
        page = await stack.messages.list(stack.tenant, parse_query(query))
        assert [m["id"] for m in page.items] == expected, query
