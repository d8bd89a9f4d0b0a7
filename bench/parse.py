"""Parse sweep throughput: ``parse_pending`` over a backlog of freshly ingested messages.

    .venv/bin/python -m bench.parse --messages 5000 --engines sqlite,postgresql --batch 50,200

For each engine and batch size: a fresh store (temporary SQLite file or throw-away
PostgreSQL database), N messages of ``bench.ingest``'s mix loaded with
``Ingestor.ingest_many`` (blob fsync off, not timed), then ``parse_pending(engine, blobs,
Message.id > 0, batch)`` in a loop until nothing is pending, which is what the sweeper
does. Printed: messages/s and CPU per message of this process (the parse runs in a
thread of it; PostgreSQL's own CPU is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from bench.common import ThrowawayPostgres, parse_engines
from bench.ingest import make_messages
from postroom.auth.service import AuthService
from postroom.config import Settings, to_async_url
from postroom.core.ingest import Incoming, Ingestor
from postroom.core.parsing import parse_pending
from postroom.store.blobs import BlobStore
from postroom.store.engine import create_engine
from postroom.store.migrate import upgrade
from postroom.store.models import Message, ParseState

LOAD_BATCH = 500


async def sweep(url: str, root: Path, raws: Sequence[bytes], batch: int) -> tuple[float, float]:
    """Load ``raws`` pending, then parse them all; (seconds, CPU seconds) of the parse."""
    engine = create_engine(url)
    blobs = BlobStore(root / "blobs", fsync=False)
    try:
        tenant = await AuthService(engine, Settings(database_url=url, storage_dir=root)).ensure_default_tenant()
        ingestor = Ingestor(engine, blobs)
        for start in range(0, len(raws), LOAD_BATCH):
            await ingestor.ingest_many(
                [Incoming(raw=raw, tenant_id=tenant) for raw in raws[start : start + LOAD_BATCH]]
            )
        await ingestor.stop()
        cpu, started = time.process_time(), time.perf_counter()
        while await parse_pending(engine, blobs, Message.id > 0, batch):
            pass
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        async with engine.connect() as conn:
            left = await conn.scalar(
                select(func.count()).select_from(Message).where(Message.parse_state == ParseState.PENDING)
            )
        if left:
            raise RuntimeError(f"{left} messages were left pending")
        return seconds, cpu
    finally:
        await engine.dispose()


def run(engine_name: str, raws: Sequence[bytes], batch: int, workdir: Path | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="postroom-parse-", dir=workdir))
    pg: ThrowawayPostgres | None = None
    try:
        if engine_name == "postgresql":
            pg = ThrowawayPostgres(root / "pg")
            url = to_async_url(pg.start())
        else:
            url = to_async_url(f"sqlite:///{root / 'postroom.db'}")
        upgrade(url)
        seconds, cpu = asyncio.run(sweep(url, root, raws, batch))
        print(
            f"  {engine_name:<10} batch {batch:>4}: {len(raws):,} parsed in {seconds:.2f} s = "
            f"{len(raws) / seconds:,.0f} msg/s; CPU {cpu:.2f} s ({1e6 * cpu / len(raws):,.0f} us/msg)",
            flush=True,
        )
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--batch", default="50", help="comma-separated batch sizes for parse_pending")
    parser.add_argument("--workdir", type=Path, default=None, help="parent folder for the data (default: /tmp)")
    args = parser.parse_args(argv)
    raws = [raw for _, _, raw in make_messages(args.messages)]
    print(f"postroom parse sweep bench  {args.messages:,} messages (bench.ingest's mix)", flush=True)
    for engine_name in parse_engines(args.engines):
        for batch in (int(b) for b in args.batch.split(",")):
            run(engine_name, raws, batch, args.workdir)


if __name__ == "__main__":
    main()
