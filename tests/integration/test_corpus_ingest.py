"""Every real message in the shared corpora goes through ingest and the full parse without loss."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from postroom.auth.service import AuthService
from postroom.config import Settings
from postroom.core.ingest import Incoming, Ingestor
from postroom.core.messages import MessageService
from postroom.core.parsing import parse_pending
from postroom.store.blobs import BlobStore
from postroom.store.engine import create_engine
from postroom.store.models import Message, ParseState
from postroom.store.query import parse_query

NOT_MAIL = {".json", ".xml", ".out", ".md", ".dns", ".key", ".pem", ".py", ".rb", ".yml", ".yaml"}


def corpus_messages(corpus: Path) -> list[Path]:
    files = []
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or path.suffix.lower() in NOT_MAIL or path.name.startswith("_decoded"):
            continue
        if path.name in {"SOURCES.md", "README", "COPYING", "LICENSE"} or "/files/" in str(path):
            continue
        files.append(path)
    return files


async def test_every_corpus_message_is_stored_byte_for_byte_and_parsed(settings: Settings, corpus: Path) -> None:
    paths = corpus_messages(corpus)
    assert len(paths) > 900
    engine = create_engine(settings.resolved_database_url)
    blobs = BlobStore(settings.blob_dir, fsync=False)
    ingestor = Ingestor(engine, blobs)
    try:
        tenant = await AuthService(engine, settings).ensure_default_tenant()
        raws = [p.read_bytes() for p in paths]
        stored = []
        for start in range(0, len(raws), 200):
            batch = [Incoming(raw=raw, tenant_id=tenant, source="import") for raw in raws[start : start + 200]]
            stored += await ingestor.ingest_many(batch)
        while await parse_pending(engine, blobs, Message.id > 0, 200):
            pass
        messages = MessageService(engine, blobs)
        for raw, item in zip(raws, stored, strict=True):
            assert await messages.raw(tenant, item.id) == raw
        async with engine.connect() as conn:
            states = dict(
                (await conn.execute(select(Message.parse_state, func.count()).group_by(Message.parse_state))).all()
            )
        assert states.get(ParseState.PENDING, 0) == 0
        assert states.get(ParseState.PARSED, 0) >= len(paths) - states.get(ParseState.FAILED, 0)
        # The full parse ran over everything: attachments were found and are searchable.
        assert (await messages.list(tenant, parse_query("has:attachment"))).total > 50
    finally:
        await ingestor.stop()
        await engine.dispose()
