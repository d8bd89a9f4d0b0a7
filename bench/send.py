"""The send pipeline end to end: one batch through the API, delivered over SMTP to a local sink.

    .venv/bin/python -m bench.send --recipients 100000 --engines sqlite,postgresql

For each engine a real Postroom runs as subprocesses (``postroom api`` plus ``--workers``
``postroom worker`` processes; SQLite in a temporary folder or a throw-away PostgreSQL
cluster) with ``EMAIL_PROVIDER=smtp`` pointing at Postfix's ``smtp-sink`` (C, from the
``postfix`` package), so the sink costs little of the machine. One ``POST /api/v1/batches``
carries every recipient with their own variables; the figures are:

- accepted/s at the API: recipients / the time the POST took (validation, rows, events);
- delivered/s end to end: recipients / (last delivery - start of the POST), and the rate
  of the delivery phase alone (after the POST answered);
- queue latency per recipient: its delivery time - its acceptance time (p50/p99).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bench.common import ThrowawayPostgres, free_port, parse_engines, rss_mib, summarise

REPO = Path(__file__).resolve().parent.parent
POSTROOM = Path(sys.executable).with_name("postroom")
START_TIMEOUT = 60.0

HTML = """<html><body style="font-family: sans-serif">
<h1>Hello {{ name }},</h1>
<p>Your order <b>#{{ order }}</b> has shipped. It should arrive on {{ day }}.</p>
<p>Track it at <a href="https://shop.example.test/orders/{{ order }}">your orders page</a>.</p>
<p>Thanks for shopping with us.<br>The Example Shop team</p>
</body></html>"""


def batch_body(count: int) -> bytes:
    recipients = [
        {"to": f"user{n}@rcpt{n % 50}.example.test", "variables": {"name": f"User {n}", "order": 100000 + n}}
        for n in range(count)
    ]
    body = {
        "from": "Example Shop <orders@shop.example.test>",
        "subject": "Your order #{{ order }} has shipped",
        "html": HTML,
        "variables": {"day": "Friday"},
        "recipients": recipients,
    }
    return json.dumps(body).encode()


def _request(url: str, data: bytes | None = None) -> dict[str, object]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        found: dict[str, object] = json.loads(response.read())
        return found


def _wait_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1).close()
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def start_sink(port: int) -> subprocess.Popen[bytes]:
    if shutil.which("smtp-sink") is None:
        raise SystemExit("smtp-sink is missing: install Debian's postfix package (scripts/test.sh does)")
    # -c: count only; -u: drop root; 1024: listen backlog.
    return subprocess.Popen(["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{port}", "1024"], stdout=subprocess.DEVNULL)


def latencies(database_url: str, batch_id: int) -> list[float]:
    async def read() -> list[float]:
        from sqlalchemy import select

        from postroom.config import to_async_url
        from postroom.send.models import Delivery
        from postroom.store.engine import create_engine

        engine = create_engine(to_async_url(database_url))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(Delivery.created_at, Delivery.finished_at).where(Delivery.email_id == batch_id)
                )
                return [(done - created).total_seconds() for created, done in rows if done is not None]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def last_finished(database_url: str, batch_id: int) -> datetime | None:
    async def read() -> datetime | None:
        from sqlalchemy import func, select

        from postroom.config import to_async_url
        from postroom.send.models import Delivery
        from postroom.store.engine import create_engine

        engine = create_engine(to_async_url(database_url))
        try:
            async with engine.connect() as conn:
                found: datetime | None = await conn.scalar(
                    select(func.max(Delivery.finished_at)).where(Delivery.email_id == batch_id)
                )
                return found
        finally:
            await engine.dispose()

    return asyncio.run(read())


def bench_engine(engine: str, count: int, workers: int, concurrency: int, root: Path) -> None:
    data = root / engine
    data.mkdir(parents=True)
    postgres = None
    database_url = f"sqlite:///{data / 'postroom.db'}"
    if engine == "postgresql":
        postgres = ThrowawayPostgres(root / "pg")
        database_url = postgres.start()
    sink_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STORAGE_DIR": str(data),
        "API_PORT": str(api_port),
        "EMAIL_PROVIDER": "smtp",
        "SMTP_RELAY_HOST": "127.0.0.1",
        "SMTP_RELAY_PORT": str(sink_port),
        "SMTP_RELAY_TLS": "none",
        "SMTP_RELAY_POOL_SIZE": str(concurrency),
        "EMAIL_WORKER_CONCURRENCY": str(concurrency),
        "EMAIL_DOMAIN_CONCURRENCY": str(concurrency),
        "POSTROOM_RUN_WORKERS": "false",
        "LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    log = (data / "server.log").open("wb")
    try:
        subprocess.run([str(POSTROOM), "migrate"], env=env, check=True, capture_output=True)
        processes.append(start_sink(sink_port))
        api = subprocess.Popen([str(POSTROOM), "api"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        processes.append(api)
        _wait_http(f"http://127.0.0.1:{api_port}/health", api)
        for _ in range(workers):
            processes.append(
                subprocess.Popen([str(POSTROOM), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
            )
        time.sleep(2)  # the workers start (and would migrate) before the clock runs
        body = batch_body(count)
        started = time.perf_counter()
        started_wall = time.time()
        answer = _request(f"http://127.0.0.1:{api_port}/api/v1/batches", body)
        accepted_after = time.perf_counter() - started
        batch_id = int(str(answer["id"]))
        print(f"  accepted {answer['accepted']} in {accepted_after:.2f} s: {count / accepted_after:,.0f} accepted/s")
        counts: dict[str, int] = {}
        while True:
            status = _request(f"http://127.0.0.1:{api_port}/api/v1/batches/{batch_id}")
            counts = dict(status["counts"])  # type: ignore[call-overload]
            if sum(n for s, n in counts.items() if s not in ("queued", "sending", "deferred")) >= count:
                break
            time.sleep(0.5)
        finished = last_finished(database_url, batch_id)
        assert finished is not None
        end_to_end = finished.timestamp() - started_wall
        phase = end_to_end - accepted_after
        print(f"  counts {counts}")
        print(
            f"  delivered/s end to end: {count / end_to_end:,.0f} ({end_to_end:.1f} s); "
            f"delivery phase alone: {count / phase:,.0f}/s ({phase:.1f} s)"
        )
        print(f"  queue latency (accepted -> delivered): {summarise(latencies(database_url, batch_id)).line()}")
        rss = ", ".join(f"{rss_mib(p.pid):.0f}" for p in processes[1:])
        print(f"  RSS of api and workers: {rss} MiB")
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()
        if postgres is not None:
            postgres.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="postroom worker processes")
    parser.add_argument("--concurrency", type=int, default=64, help="deliveries in flight per worker")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="postroom-send-bench-") as tmp:
        for engine in parse_engines(args.engines):
            print(f"{engine}: {args.recipients:,} recipients, {args.workers} worker(s), {args.concurrency} in flight")
            bench_engine(engine, args.recipients, args.workers, args.concurrency, Path(tmp))


if __name__ == "__main__":
    main()
