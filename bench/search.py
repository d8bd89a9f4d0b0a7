"""Search latency at scale: load N synthetic messages into the store, then time searches.

    .venv/bin/python -m bench.search --messages 1000000 --engines sqlite,postgresql --queries 200

Loading goes through the real ingest code (``Ingestor.ingest_many``: header parse, raw
blob, message row, tags, header search row, ``message.received`` event; one transaction
per batch), with blob fsync OFF (a bulk load, not an SMTP acknowledgement). The body
step then either runs the real parse sweep (``--parse sweep``: ``parse_pending`` in a
loop) or writes what the sweep would write in bulk (``--parse direct``, the default
because the sweep is too slow for 1M): the message_bodies row, parse_state/snippet/
has_attachments, and the search row with the body through ``store.search``.

Every search goes through ``MessageService.list(limit=50)``, which also counts ``total``
and ``unread``: the same work as ``GET /api/v1/messages?query=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import itertools
import random
import shutil
import string
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import ThrowawayPostgres, parse_engines, rss_mib, summarise
from postroom.auth.service import AuthService
from postroom.config import Settings, to_async_url
from postroom.core.ingest import MESSAGE_CASTS, MESSAGE_COLUMNS, Incoming, Ingestor, Stored
from postroom.core.messages import MessageService
from postroom.core.parsing import parse_pending
from postroom.store import blobs as blob_index
from postroom.store import bulk, counters, search
from postroom.store.blobs import BlobStore, PackedBlob
from postroom.store.engine import create_engine
from postroom.store.migrate import upgrade
from postroom.store.models import Message, MessageBody, ParseState
from postroom.store.query import parse_query
from postroom.store.types import utcnow

TAGS = ("signup", "invoice", "newsletter", "alert", "receipt", "password-reset", "welcome", "digest")
SUBJECT_OPENERS = (
    "Re:",
    "Fwd:",
    "Invoice",
    "Your order",
    "Meeting about",
    "Question on",
    "Update:",
    "Reminder:",
    "Welcome to",
    "Weekly digest:",
    "Alert:",
    "Notes from",
)
_FIRST = (
    "alice bob carol dave erin frank grace heidi ivan judy mallory nina oscar peggy quentin rupert "
    "sybil trent ursula victor wendy xavier yolanda zoe"
)
_LAST = (
    "smith jones brown taylor wilson davies evans thomas johnson roberts walker wright robinson "
    "thompson white hughes edwards green hall wood harris lewis martin jackson clarke"
)
FIRST_NAMES = tuple(_FIRST.split())
LAST_NAMES = tuple(_LAST.split())
PROGRESS_EVERY = 100_000
WARM_UP = 5
QUERY_KINDS = (
    "rare word",
    "common word",
    "from:",
    "to:",
    'subject:"phrase"',
    "tag:",
    "is:unread",
    "has:attachment",
    "combination",
    "empty (newest)",
)


class Zipf:
    """Draw items with probability proportional to 1 / rank**s (rank 1 = most common)."""

    def __init__(self, items: Sequence[str], s: float, rng: random.Random) -> None:
        self.items = list(items)
        self.rng = rng
        self.cum = list(itertools.accumulate(1.0 / (rank**s) for rank in range(1, len(self.items) + 1)))
        self.total = self.cum[-1]

    def draw(self, k: int) -> list[str]:
        return self.rng.choices(self.items, cum_weights=self.cum, k=k)

    def one(self) -> str:
        return self.items[bisect.bisect(self.cum, self.rng.random() * self.total)]


def make_vocabulary(size: int, rng: random.Random) -> list[str]:
    """``size`` distinct pronounceable lowercase words (letters only, so FTS sees one token each)."""
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    seen: dict[str, None] = {}
    while len(seen) < size:
        syllables = rng.choice((2, 2, 3, 3, 4))
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        if rng.random() < 0.3:
            word += rng.choice(consonants)
        seen.setdefault(word, None)
    return list(seen)


@dataclass
class Corpus:
    """Deterministic synthetic mail: Zipf-distributed words, senders, recipients and tags."""

    seed: int
    vocabulary_size: int = 100_000
    senders: int = 20_000
    recipients: int = 5_000
    attachment_share: float = 0.05
    tag_share: float = 0.2
    rng: random.Random = field(init=False)
    words: Zipf = field(init=False)
    from_pool: Zipf = field(init=False)
    to_pool: Zipf = field(init=False)
    subject_samples: list[str] = field(default_factory=list)
    start: datetime = field(default_factory=lambda: datetime(2025, 1, 1, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        vocabulary = make_vocabulary(self.vocabulary_size, self.rng)
        self.words = Zipf(vocabulary, 1.1, self.rng)
        self.from_pool = Zipf([self._person(i, "example") for i in range(self.senders)], 1.0, self.rng)
        self.to_pool = Zipf([self._person(i, "corp") for i in range(self.recipients)], 1.0, self.rng)

    def _person(self, index: int, kind: str) -> str:
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        return f"{first}.{last}{index}@{kind}{index % 97}.{kind}.test"

    def message(self, n: int) -> tuple[bytes, str, bool]:
        """(raw RFC 5322 bytes, body text, has an attachment) of message number ``n``."""
        rng = self.rng
        subject_words = self.words.draw(rng.randint(2, 5))
        subject = f"{rng.choice(SUBJECT_OPENERS)} {' '.join(subject_words)} #{n}"
        if len(self.subject_samples) < 2000 and rng.random() < 0.01:
            self.subject_samples.append(" ".join(subject_words))
        sender = self.from_pool.one()
        recipients = sorted(set(self.to_pool.draw(rng.choice((1, 1, 1, 2, 3)))))
        body_words = self.words.draw(rng.randint(30, 120))
        lines = [" ".join(body_words[i : i + 12]) for i in range(0, len(body_words), 12)]
        body = "Hello,\r\n\r\n" + ".\r\n".join(lines) + ".\r\n\r\nRegards\r\n"
        sent = self.start + timedelta(seconds=n * 7)
        headers = [
            f"Message-ID: <{n}.{self.seed}@bench.postroom.test>",
            f"Date: {sent:%a, %d %b %Y %H:%M:%S} +0000",
            f'From: "{sender.split("@")[0].replace(".", " ").title()}" <{sender}>',
            "To: " + ", ".join(recipients),
            f"Subject: {subject}",
            "MIME-Version: 1.0",
        ]
        if rng.random() < self.tag_share:
            headers.append(
                "X-Tags: " + ", ".join(sorted(set(rng.choices(TAGS, weights=(8, 7, 6, 5, 4, 3, 2, 1), k=2))))
            )
        attach = rng.random() < self.attachment_share
        if attach:
            boundary = f"b{n}"
            payload = "".join(rng.choices(string.ascii_letters + string.digits, k=400))
            lines_b64 = "\r\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
            headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            raw = (
                "\r\n".join(headers)
                + f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
                + f'\r\n--{boundary}\r\nContent-Type: application/pdf; name="doc{n}.pdf"\r\n'
                + f'Content-Disposition: attachment; filename="doc{n}.pdf"\r\n'
                + f"Content-Transfer-Encoding: base64\r\n\r\n{lines_b64}\r\n--{boundary}--\r\n"
            )
        else:
            headers.append("Content-Type: text/plain; charset=utf-8")
            raw = "\r\n".join(headers) + "\r\n\r\n" + body
        return raw.encode(), body, attach


_GENERATOR: Corpus | None = None


def _init_generator(seed: int) -> None:
    global _GENERATOR
    _GENERATOR = Corpus(seed=seed)


def _generate(first: int, count: int) -> tuple[list[tuple[bytes, str, bool]], list[str]]:
    """(messages first..first+count-1, subject phrases sampled meanwhile); runs in the child process."""
    assert _GENERATOR is not None
    _GENERATOR.rng.seed(_GENERATOR.seed * 1_000_003 + first)  # same messages whatever the batch size
    _GENERATOR.subject_samples.clear()
    return [_GENERATOR.message(first + i) for i in range(count)], list(_GENERATOR.subject_samples)


@dataclass
class LoadResult:
    loaded: int
    generate_seconds: float
    ingest_seconds: float
    body_seconds: float
    finish_seconds: float
    rss_samples: list[tuple[int, float]]
    loader: str
    parse_mode: str


def _body_rows(tenant_id: int, stored: Sequence[Stored], bodies: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    body_rows, message_updates, search_rows = [], [], []
    for item, (body, attach) in zip(stored, bodies, strict=True):
        attachments = (
            [{"filename": f"doc{item.id}.pdf", "content_type": "application/pdf", "size": 300, "is_inline": False}]
            if attach
            else []
        )
        body_rows.append(
            {
                "message_id": item.id,
                "tenant_id": tenant_id,
                "text": body,
                "html": "",
                "headers": [],
                "attachments": attachments,
            }
        )
        message_updates.append({"b_id": item.id, "b_attach": attach, "b_snippet": " ".join(body.split())[:200]})
        s = item.summary
        sender = f"{s.sender.name} {s.sender.address}" if s.sender else ""
        search_rows.append(
            search.SearchRow(
                message_id=item.id,
                tenant_id=tenant_id,
                subject=s.subject,
                sender=f"{sender} ",
                recipients=" ".join(f"{a.name} {a.address}" for a in (*s.to, *s.cc, *s.bcc)),
                body=body,
            )
        )
    return {"bodies": body_rows, "updates": message_updates, "search": search_rows}


async def write_bodies_direct(
    engine: AsyncEngine, tenant_id: int, stored: Sequence[Stored], bodies: Sequence[tuple[str, bool]]
) -> None:
    """What ``core.parsing._store`` writes per message, for a whole batch in one transaction."""
    rows = _body_rows(tenant_id, stored, bodies)
    ids = [item.id for item in stored]
    async with engine.begin() as conn:
        await conn.execute(insert(MessageBody), rows["bodies"])
        await conn.execute(
            update(Message)
            .where(Message.id == bindparam("b_id"))
            .values(
                parse_state=ParseState.PARSED, has_attachments=bindparam("b_attach"), snippet=bindparam("b_snippet")
            ),
            rows["updates"],
        )
        if conn.dialect.name == "sqlite":  # search.replace, batched: drop the header-only rows first
            await conn.execute(
                text("DELETE FROM message_search WHERE rowid BETWEEN :lo AND :hi"), {"lo": min(ids), "hi": max(ids)}
            )
        await search.insert(conn, rows["search"])  # PostgreSQL: INSERT ... ON CONFLICT DO UPDATE


ATTACHMENTS = [{"filename": "doc.pdf", "content_type": "application/pdf", "size": 300, "is_inline": False}]
BODY_COLUMNS = ("message_id", "tenant_id", "text", "html", "headers", "attachments")
BODY_CASTS = ("", "", "", "", "jsonb", "jsonb")
EVENT_COLUMNS = ("tenant_id", "type", "subject_id", "payload", "created_at")
EVENT_CASTS = ("", "", "", "jsonb", "")


@dataclass
class PreparedBatch:
    blobs: list[PackedBlob]
    messages: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[int, str, int]] = field(default_factory=list)
    bodies: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    search: list[search.SearchRow] = field(default_factory=list)


class BulkLoader:
    """Writes what ingest + the full parse write, a whole batch per transaction (a bulk import).

    Per message it uses the ingest code itself (``Ingestor._prepare``: header parse, digest and compression,
    tags; ``Ingestor._row``/``_search_row``/``_event``), the blob store (``BlobStore.append``
    + ``store.blobs.record``) and the driver-level inserts of ``store.bulk`` and
    ``store.search.insert``. Differences from ingest + sweep: ids are assigned here (so a
    prepared batch can be built while the previous one commits), the message row is written
    already parsed (parse_state, snippet, has_attachments), the search row is written once
    with the body, and message_bodies.headers is left empty.
    """

    def __init__(self, engine: AsyncEngine, blobs: BlobStore, tenant_id: int) -> None:
        self.engine = engine
        self.blobs = blobs
        self.tenant_id = tenant_id
        self.ingestor = Ingestor(engine, blobs)
        self.next_id = 0

    async def start(self) -> None:
        async with self.engine.connect() as conn:
            self.next_id = int(await conn.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0) + 1

    def prepare(self, generated: Sequence[tuple[bytes, str, bool]]) -> PreparedBatch:
        """CPU part (main thread): header parse and the rows, as ingest + the full parse make them."""
        prepared = [
            self.ingestor._prepare(Incoming(raw=raw, tenant_id=self.tenant_id, source="import"))
            for raw, _, _ in generated
        ]
        received_at = utcnow()
        out = PreparedBatch(blobs=[p.blob for p in prepared])
        for offset, (p, (_, body, attach)) in enumerate(zip(prepared, generated, strict=True)):
            mid = self.next_id + offset
            row = self.ingestor._row(p, received_at)
            event = self.ingestor._event(mid, row, p)
            row.update(parse_state=int(ParseState.PARSED), has_attachments=attach, snippet=" ".join(body.split())[:200])
            out.messages.append((mid, *(row[c] for c in MESSAGE_COLUMNS)))
            out.tags.extend((mid, tag, self.tenant_id) for tag in p.tags)
            out.bodies.append((mid, self.tenant_id, body, "", [], ATTACHMENTS if attach else []))
            out.events.append((self.tenant_id, event.type, mid, event.payload, received_at))
            out.search.append(dataclasses.replace(self.ingestor._search_row(mid, p), body=body))
        self.next_id += len(prepared)
        return out

    async def commit(self, batch: PreparedBatch) -> None:
        """I/O part (blob thread, database thread): raw blobs, then one transaction."""
        refs = await asyncio.to_thread(self.blobs.append_packed, batch.blobs)
        async with self.engine.begin() as conn:
            await blob_index.record(conn, refs)
            await bulk.insert_many(
                conn, "messages", ["id", *MESSAGE_COLUMNS], batch.messages, casts=["", *MESSAGE_CASTS]
            )
            await bulk.insert_many(conn, "message_tags", ["message_id", "tag", "tenant_id"], batch.tags)
            await bulk.insert_many(conn, "message_bodies", BODY_COLUMNS, batch.bodies, casts=BODY_CASTS)
            await bulk.insert_many(conn, "events", EVENT_COLUMNS, batch.events, casts=EVENT_CASTS)
            await search.insert(conn, batch.search)

    async def finish(self) -> None:
        if self.engine.dialect.name == "postgresql":
            async with self.engine.begin() as conn:
                for table in ("messages", "events"):
                    await conn.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                    )


async def load(
    engine: AsyncEngine,
    blobs: BlobStore,
    tenant_id: int,
    corpus: Corpus,
    *,
    messages: int,
    batch: int,
    loader: str,
    parse_mode: str,
    budget_seconds: float,
    log: Callable[[str], None],
) -> LoadResult:
    ingestor = Ingestor(engine, blobs)
    bulk = BulkLoader(engine, blobs, tenant_id)
    await bulk.start()
    ingest_seconds = body_seconds = generate_seconds = 0.0
    rss_samples: list[tuple[int, float]] = [(0, rss_mib())]
    started = time.perf_counter()
    loaded = 0
    next_report = PROGRESS_EVERY
    loop = asyncio.get_running_loop()
    sizes = [min(batch, messages - start) for start in range(0, messages, batch)]
    # Messages are generated in a child process, one batch ahead, so the generator does not
    # compete with the store for this process's GIL.
    with ProcessPoolExecutor(1, initializer=_init_generator, initargs=(corpus.seed,)) as pool:
        ahead = loop.run_in_executor(pool, _generate, 0, sizes[0]) if sizes else None
        committing: asyncio.Task[None] | None = None
        for index, size in enumerate(sizes):
            if time.perf_counter() - started > budget_seconds:
                log(f"  load budget of {budget_seconds:.0f} s spent: stopping at {loaded:,} messages")
                break
            t0 = time.perf_counter()
            assert ahead is not None
            generated, samples = await ahead
            corpus.subject_samples.extend(samples[: max(0, 2000 - len(corpus.subject_samples))])
            if index + 1 < len(sizes):
                ahead = loop.run_in_executor(pool, _generate, loaded + size, sizes[index + 1])
            t1 = time.perf_counter()
            generate_seconds += t1 - t0  # time spent waiting for the generator
            if loader == "bulk":
                prepared = bulk.prepare(generated)  # overlaps with the previous batch's commit
                if committing is not None:
                    await committing
                committing = asyncio.create_task(bulk.commit(prepared))
                ingest_seconds += time.perf_counter() - t1
            else:
                incoming = [Incoming(raw=raw, tenant_id=tenant_id, source="import") for raw, _, _ in generated]
                stored = await ingestor.ingest_many(incoming)
                t2 = time.perf_counter()
                ingest_seconds += t2 - t1
                if parse_mode == "direct":
                    bodies = [(body, attach) for _, body, attach in generated]
                    await write_bodies_direct(engine, tenant_id, stored, bodies)
                    body_seconds += time.perf_counter() - t2
            loaded += size
            if loaded >= next_report or loaded == messages:
                elapsed = time.perf_counter() - started
                rss = rss_mib()
                rss_samples.append((loaded, rss))
                log(f"  loaded {loaded:>9,}  {loaded / elapsed:8,.0f} msg/s overall  RSS {rss:7.1f} MiB")
                next_report += PROGRESS_EVERY
        if committing is not None:
            t0 = time.perf_counter()
            await committing
            ingest_seconds += time.perf_counter() - t0
    if loader == "bulk":
        await bulk.finish()
    elif parse_mode == "sweep":
        t0 = time.perf_counter()
        swept = 0
        while True:
            done = await parse_pending(engine, blobs, Message.id > 0, 500)
            if done == 0:
                break
            swept += done
            if swept % 20_000 < 500:
                rate = swept / (time.perf_counter() - t0)
                log(f"  parse sweep {swept:>9,}  {rate:8,.0f} msg/s  RSS {rss_mib():7.1f} MiB")
            if time.perf_counter() - started > budget_seconds * 2:
                log(f"  parse sweep stopped by the time budget after {swept:,} messages (the rest stay pending)")
                break
        body_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    async with engine.begin() as conn:
        # 70 % read, spread evenly, so is:unread selects about 30 %.
        await conn.execute(update(Message).values(is_read=(Message.id % 10) < 7))
        # The bulk loader bypasses ingest's counter updates and the update above changes unread.
        await counters.rebuild(conn)
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load (statistics, visibility map for index-only scans).
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    finish_seconds = time.perf_counter() - t0
    return LoadResult(
        loaded, generate_seconds, ingest_seconds, body_seconds, finish_seconds, rss_samples, loader, parse_mode
    )


def build_queries(corpus: Corpus, count: int, rng: random.Random) -> list[tuple[str, str]]:
    words = corpus.words.items
    rare = words[20_000 : corpus.vocabulary_size]
    common = words[1:30]
    senders = corpus.from_pool.items[:2000]
    recipients = corpus.to_pool.items[:1000]
    phrases = [p for p in corpus.subject_samples if len(p.split()) >= 2] or [f"{words[0]} {words[1]}"]

    def make(kind: str) -> str:
        if kind == "rare word":
            return rng.choice(rare)
        if kind == "common word":
            return rng.choice(common)
        if kind == "from:":
            return f"from:{rng.choice(senders)}"
        if kind == "to:":
            return f"to:{rng.choice(recipients)}"
        if kind == 'subject:"phrase"':
            parts = rng.choice(phrases).split()
            start = rng.randrange(len(parts) - 1)
            return f'subject:"{parts[start]} {parts[start + 1]}"'
        if kind == "tag:":
            return f"tag:{rng.choice(TAGS)}"
        if kind == "is:unread":
            return "is:unread"
        if kind == "has:attachment":
            return "has:attachment"
        if kind == "combination":
            return rng.choice(
                (
                    f"from:{rng.choice(senders[:200])} {rng.choice(words[5:200])} is:unread",
                    f"tag:{rng.choice(TAGS[:4])} has:attachment {rng.choice(words[2:50])}",
                    f'subject:"{rng.choice(words[:50])}" -{rng.choice(words[:10])} to:{rng.choice(recipients[:100])}',
                )
            )
        return ""

    return [(kind, make(kind)) for kind in itertools.islice(itertools.cycle(QUERY_KINDS), count)]


async def run_queries(
    service: MessageService,
    tenant_id: int,
    queries: Sequence[tuple[str, str]],
    log: Callable[[str], None],
    budget_seconds: float,
) -> dict[str, list[float]]:
    for _, q in queries[:WARM_UP]:  # warm the caches; not counted
        with contextlib.suppress(Exception):
            await service.list(tenant_id, parse_query(q), limit=50)
    started = time.perf_counter()
    timings: dict[str, list[float]] = defaultdict(list)
    totals: dict[str, list[int]] = defaultdict(list)
    slowest: list[tuple[float, str, int]] = []
    for done, (kind, q) in enumerate(queries):
        if time.perf_counter() - started > budget_seconds:
            log(f"  query budget of {budget_seconds:.0f} s spent: stopping after {done} of {len(queries)} searches")
            break
        if done and done % 50 == 0:
            log(f"    ... {done} searches done in {time.perf_counter() - started:.1f} s")
        t0 = time.perf_counter()
        try:
            page = await service.list(tenant_id, parse_query(q), limit=50)
            total = page.total
        except Exception as exc:  # a statement timeout: counted at the time it took, total -1
            log(f"    FAILED after {time.perf_counter() - t0:.1f} s: {q!r}: {type(exc).__name__}: {str(exc)[:120]}")
            total = -1
        elapsed = time.perf_counter() - t0
        timings[kind].append(elapsed)
        totals[kind].append(total)
        slowest.append((elapsed, q, total))
    log(f"  {'query kind':<18} {'median total':>12}  latency")
    for kind in QUERY_KINDS:
        if kind in timings:
            matches = sorted(totals[kind])[len(totals[kind]) // 2]
            log(f"  {kind:<18} {matches:>12,}  {summarise(timings[kind]).line()}")
    everything = [t for values in timings.values() for t in values]
    log(f"  {'ALL':<18} {'':>12}  {summarise(everything).line()}")
    log("  slowest five:")
    for elapsed, q, total in sorted(slowest, reverse=True)[:5]:
        log(f"    {elapsed * 1000:8.1f} ms  total={total:>9,}  {q or '(empty)'}")
    return timings


async def bench_engine(args: argparse.Namespace, engine_name: str, workdir: Path) -> None:
    log = _printer()
    log(f"\n=== {engine_name}: {args.messages:,} messages, parse mode {args.parse} ===")
    pg: ThrowawayPostgres | None = None
    if args.reuse_url:
        url = to_async_url(args.reuse_url)
    elif engine_name == "postgresql":
        pg = ThrowawayPostgres(workdir / "pg")
        url = to_async_url(pg.start())
    else:
        url = to_async_url(f"sqlite:///{workdir / 'postroom.db'}")
    try:
        upgrade(url)
        engine = create_engine(url)
        blobs = BlobStore(workdir / "blobs", fsync=False)
        settings = Settings(database_url=url, storage_dir=workdir)
        tenant_id = await AuthService(engine, settings).ensure_default_tenant()
        corpus = Corpus(seed=args.seed)
        if args.reuse is None and not args.reuse_url:
            result = await load(
                engine,
                blobs,
                tenant_id,
                corpus,
                messages=args.messages,
                batch=args.batch,
                loader=args.loader,
                parse_mode=args.parse,
                budget_seconds=args.load_budget,
                log=log,
            )
            store_seconds = result.ingest_seconds + result.body_seconds
            what = "bulk rows (ingest + parse output)" if result.loader == "bulk" else "Ingestor.ingest_many"
            log(
                f"  load: {result.loaded:,} messages; generating {result.generate_seconds:.1f} s; "
                f"{what} {result.ingest_seconds:.1f} s ({result.loaded / max(result.ingest_seconds, 1e-9):,.0f} msg/s)"
            )
            if result.loader == "ingest":
                log(f"        bodies ({result.parse_mode}) {result.body_seconds:.1f} s")
            log(
                f"        store total {store_seconds:.1f} s = {result.loaded / max(store_seconds, 1e-9):,.0f} msg/s; "
                f"wall incl. generating {store_seconds + result.generate_seconds:.1f} s; "
                f"is_read update (+ VACUUM ANALYZE on PostgreSQL) {result.finish_seconds:.1f} s"
            )
            rss = [r for _, r in result.rss_samples]
            low, high = min(rss[1:] or rss), max(rss)
            log(f"  bench process RSS while loading: start {rss[0]:.1f} MiB, then between {low:.1f} and {high:.1f} MiB")
        else:
            log(f"  reusing the store in {workdir} (no loading)")
            async with engine.connect() as conn:
                subjects = await conn.scalars(
                    select(Message.subject).where(Message.id.in_([random.randrange(1, 10**6) for _ in range(300)]))
                )
                # "Opener words... #n": keep the Zipf words in the middle.
                corpus.subject_samples.extend(" ".join(x.split(" #")[0].split()[-2:]) for x in subjects)
        if pg is not None:
            log(f"  PostgreSQL processes RSS (shared buffers counted per process): {pg.backend_rss_mib():.0f} MiB")
        async with engine.connect() as conn:
            stored = await conn.scalar(select(func.count()).select_from(Message))
            pending = await conn.scalar(
                select(func.count()).select_from(Message).where(Message.parse_state == ParseState.PENDING)
            )
        size = _db_size(workdir, engine_name)
        log(f"  store holds {stored:,} messages ({pending:,} not parsed); database size {size}")
        if engine.dialect.name == "postgresql":
            # One pathological plan must not stall the whole run: cap every statement.
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                database = await conn.scalar(text("SELECT current_database()"))
                timeout_ms = int(args.statement_timeout * 1000)
                await conn.execute(text(f'ALTER DATABASE "{database}" SET statement_timeout = {timeout_ms}'))
            await engine.dispose()  # new connections pick the setting up
        service = MessageService(engine, blobs)
        queries = build_queries(corpus, args.queries, random.Random(args.seed + 1))
        log(f"  {len(queries)} searches through MessageService.list(limit=50), after {WARM_UP} warm-up searches:")
        await run_queries(service, tenant_id, queries, log, args.query_budget)
        if args.explain:
            await explain(engine, blobs, tenant_id, queries, log)
        await engine.dispose()
    finally:
        if pg is not None:
            pg.stop()


async def explain(
    engine: AsyncEngine,
    blobs: BlobStore,
    tenant_id: int,
    queries: Sequence[tuple[str, str]],
    log: Callable[[str], None],
) -> None:
    """Query plans of the statements one search of each kind runs, with their parameters (on
    PostgreSQL with ANALYZE and BUFFERS: actual rows and pages read)."""
    service = MessageService(engine, blobs)
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    first_of_kind = {kind: q for kind, q in reversed(queries)}
    for kind in QUERY_KINDS:
        if kind not in first_of_kind:
            continue
        q = first_of_kind[kind]
        captured.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            await service.list(tenant_id, parse_query(q), limit=50)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        log(f"  plans [{kind}] {q or '(empty)'}:")
        for statement, parameters in captured:
            async with engine.connect() as conn:
                rows = await conn.exec_driver_sql(prefix + statement, parameters)
                plan = [" | ".join(str(c) for c in row) for row in rows]
            log(f"    {' '.join(statement.split())[:150]}")
            for line in plan:
                log(f"        {line}")


def _db_size(workdir: Path, engine_name: str) -> str:
    if engine_name == "sqlite":
        size = sum(p.stat().st_size for p in workdir.glob("postroom.db*"))
    else:
        size = sum(p.stat().st_size for p in (workdir / "pg").rglob("*") if p.is_file())
    return f"{size / 2**20:,.0f} MiB"


def _printer() -> Callable[[str], None]:
    def log(line: str) -> None:
        print(line, flush=True)

    return log


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000, help="messages per ingest_many transaction")
    parser.add_argument(
        "--loader",
        choices=("bulk", "ingest"),
        default="bulk",
        help="bulk: driver-level executemany of the rows ingest+parse write; ingest: Ingestor.ingest_many",
    )
    parser.add_argument(
        "--parse",
        choices=("direct", "sweep"),
        default="direct",
        help="with --loader ingest: write bodies in bulk (direct) or run the real parse sweep",
    )
    parser.add_argument("--load-budget", type=float, default=900.0, help="seconds of loading per engine, then stop")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--query-budget", type=float, default=600.0, help="seconds of searching per engine, then stop")
    parser.add_argument("--reuse-url", default="", help="search an already loaded PostgreSQL database; no loading")
    parser.add_argument(
        "--statement-timeout", type=float, default=30.0, help="PostgreSQL: seconds before one statement is cancelled"
    )
    parser.add_argument(
        "--reuse", type=Path, default=None, help="search a SQLite data folder kept by --keep (same --seed); no loading"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="parent folder for the data (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--explain", action="store_true", help="print query plans of the list statements")
    args = parser.parse_args(argv)
    print(f"postroom search bench  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  python {sys.version.split()[0]}")
    print("blob fsync: OFF while loading (bulk import); raw blobs are still written and compressed")
    if args.reuse is not None or args.reuse_url:
        engine_name = "postgresql" if args.reuse_url else "sqlite"
        asyncio.run(bench_engine(args, engine_name, args.reuse or Path(tempfile.gettempdir())))
        return
    for engine_name in parse_engines(args.engines):
        workdir = Path(tempfile.mkdtemp(prefix=f"postroom-search-{engine_name}-", dir=args.workdir))
        try:
            asyncio.run(bench_engine(args, engine_name, workdir))
        finally:
            if args.keep:
                print(f"  data kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
