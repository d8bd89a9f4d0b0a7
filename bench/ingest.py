"""SMTP ingest throughput with durable acknowledgements, against a do-nothing aiosmtpd baseline.

    .venv/bin/python -m bench.ingest --messages 5000 --connections 16 --engines sqlite,postgresql --with-baseline

For each engine a real ``postroom serve`` runs as a subprocess (temporary data folder, blob
fsync ON, SQLite or a throw-away PostgreSQL cluster). A lean asyncio client opens C SMTP
sessions; each sends its share of the N messages in ONE session, pipelining
MAIL+RCPT+DATA (RFC 2920) and then the content. Time-to-250 is measured per message from
the write of the final ``.`` to the ``250``; the server's CPU is read from ``/proc``, and
after the blast the bench waits for the server's parse sweep to empty the backlog.
``--with-baseline`` runs the same client against a bare aiosmtpd server (separate
process; ``handle_DATA`` returns ``250 OK``). The blasts take turns for ``--rounds`` rounds
(baseline, then each engine), so a slow spell on a shared machine hits both sides of a
ratio; the summary gives each ratio's median over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ThrowawayPostgres, cpu_seconds, free_port, parse_engines, rss_mib, summarise
from postroom.loops import loop_factory, loop_name

REPO = Path(__file__).resolve().parent.parent
POSTROOM = Path(sys.executable).with_name("postroom")
_WORD_TEXT = (
    "account update invoice meeting schedule project review report customer order shipment payment "
    "reminder welcome password security alert weekly summary team release notes deadline budget "
    "quarterly planning contract renewal feedback survey support ticket status delivery confirmation"
)
WORDS = tuple(_WORD_TEXT.split())
START_TIMEOUT = 60.0
SESSION_TIMEOUT = 120.0
SWEEP_TIMEOUT = 300.0


def make_messages(count: int, seed: int = 11) -> list[tuple[str, str, bytes]]:
    """(mail from, rcpt to, raw) with realistic headers; ~3 KB, every 5th with a ~20 KB base64 attachment."""
    rng = random.Random(seed)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    out = []
    for n in range(count):
        sender = f"{rng.choice(WORDS)}.{n % 97}@sender{n % 13}.example"
        rcpt = f"user{n % 50}@inbox.example"
        sent = start + timedelta(seconds=n)
        subject = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {rng.choice(WORDS)} #{n}"
        paragraphs = []
        size = 0
        while size < 2300:
            line = " ".join(rng.choices(WORDS, k=12)).capitalize() + "."
            paragraphs.append(line)
            size += len(line) + 2
        text = "\r\n".join(paragraphs)
        headers = (
            f"Received: from mta{n % 7}.sender{n % 13}.example "
            f"(mta{n % 7}.sender{n % 13}.example [192.0.2.{n % 250}])\r\n"
            f"\tby mx.inbox.example with ESMTPS id {n:08x}; {sent:%a, %d %b %Y %H:%M:%S} +0000\r\n"
            f"Message-ID: <{n}.{seed}.{rng.getrandbits(32):08x}@sender{n % 13}.example>\r\n"
            f"Date: {sent:%a, %d %b %Y %H:%M:%S} +0000\r\n"
            f'From: "{sender.split("@")[0].title()}" <{sender}>\r\n'
            f'To: "User {n % 50}" <{rcpt}>\r\n'
            f"Subject: {subject}\r\n"
            "MIME-Version: 1.0\r\n"
            f"X-Mailer: postroom-bench/1.0\r\n"
        )
        if n % 5 == 4:
            payload = base64.encodebytes(rng.randbytes(15_000)).decode().replace("\n", "\r\n")
            raw = (
                headers + f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n'
                f"--b{n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
                f'--b{n}\r\nContent-Type: application/pdf; name="report{n}.pdf"\r\n'
                f'Content-Disposition: attachment; filename="report{n}.pdf"\r\n'
                f"Content-Transfer-Encoding: base64\r\n\r\n{payload}--b{n}--\r\n"
            )
        else:
            raw = headers + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        out.append((sender, rcpt, raw.encode()))
    return out


class SmtpError(RuntimeError):
    pass


async def _reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed")
        lines.append(line.decode(errors="replace").rstrip("\r\n"))
        if line[3:4] != b"-":
            return int(line[:3]), "\n".join(lines)


async def _session(port: int, messages: Sequence[tuple[str, str, bytes]], latencies: list[float]) -> int:
    """One SMTP session sending ``messages``; returns how many got a 250."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        code, text = await _reply(reader)
        if code != 220:
            raise SmtpError(text)
        writer.write(b"EHLO bench.client\r\n")
        code, text = await _reply(reader)
        if code != 250:
            raise SmtpError(text)
        accepted = 0
        for mail_from, rcpt, raw in messages:
            # RFC 2920: MAIL, RCPT and DATA in one write; DATA is the last command of the group.
            writer.write(f"MAIL FROM:<{mail_from}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
            for expected in (250, 250, 354):
                code, text = await _reply(reader)
                if code != expected:
                    raise SmtpError(f"expected {expected}, got {text}")
            body = raw.replace(b"\r\n.", b"\r\n..")
            writer.write(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
            await writer.drain()
            sent = time.perf_counter()
            code, text = await _reply(reader)
            latencies.append(time.perf_counter() - sent)
            if code == 250:
                accepted += 1
        writer.write(b"QUIT\r\n")
        await _reply(reader)
        return accepted
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


@dataclass
class BlastResult:
    sent: int
    accepted: int
    seconds: float
    latencies: list[float]
    client_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


async def blast(port: int, messages: Sequence[tuple[str, str, bytes]], connections: int) -> BlastResult:
    shares = [messages[i::connections] for i in range(connections)]
    latencies: list[float] = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    async with asyncio.timeout(SESSION_TIMEOUT * 5):
        counts = await asyncio.gather(*(_session(port, share, latencies) for share in shares if share))
    seconds = time.perf_counter() - t0
    return BlastResult(len(messages), sum(counts), seconds, latencies, time.process_time() - cpu0)


def report_blast(label: str, result: BlastResult, server_cpu_seconds: float) -> None:
    lat = summarise(result.latencies)
    per_message = 1e6 * server_cpu_seconds / result.accepted if result.accepted else 0.0
    print(
        f"  {label}: {result.accepted:,}/{result.sent:,} accepted in {result.seconds:.2f} s = "
        f"{result.rate:,.0f} msg/s; time-to-250 p50 {lat.p50_ms:.2f} ms, p99 {lat.p99_ms:.2f} ms "
        f"(max {lat.max_ms:.2f} ms); client CPU {result.client_cpu_seconds:.2f} s "
        f"({100 * result.client_cpu_seconds / result.seconds:.0f} % of one core); server CPU "
        f"{server_cpu_seconds:.2f} s ({100 * server_cpu_seconds / result.seconds:.0f} % of one core, "
        f"{per_message:,.0f} us/msg)",
        flush=True,
    )


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def _pending_counter(engine: str, data: Path, url: str) -> tuple[Any, Any]:
    """(count(), close()) for the messages the parse sweep has not reached yet."""
    sql = "SELECT count(*) FROM messages WHERE parse_state = 0"
    if engine == "sqlite":
        db = sqlite3.connect(f"file:{data / 'postroom.db'}?mode=ro", uri=True)

        async def count_sqlite() -> int:
            return int(db.execute(sql).fetchone()[0])

        async def close_sqlite() -> None:
            db.close()

        return count_sqlite, close_sqlite
    import asyncpg

    pg = await asyncpg.connect(url)

    async def count_pg() -> int:
        return int(await pg.fetchval(sql))

    return count_pg, pg.close


@dataclass
class Sweep:
    backlog: int  # messages still unparsed at the last 250
    seconds: float  # from the last 250 until none was left
    cpu_seconds: float  # server CPU meanwhile

    @property
    def rate(self) -> float:
        return self.backlog / self.seconds if self.seconds else 0.0


async def blast_and_sweep(
    engine: str,
    data: Path,
    url: str,
    pid: int,
    port: int,
    messages: Sequence[tuple[str, str, bytes]],
    connections: int,
    database_cpu: Callable[[], float],
) -> tuple[BlastResult, float, float, Sweep]:
    """The blast (result, server and database CPU seconds), then the server's own parse sweep catching up."""
    count, close = await _pending_counter(engine, data, url)
    try:
        cpu_before, database_before = cpu_seconds(pid), database_cpu()
        result = await blast(port, messages, connections)
        cpu_blast, database_blast = cpu_seconds(pid), database_cpu()
        backlog = await count()
        started = time.perf_counter()
        while time.perf_counter() - started < SWEEP_TIMEOUT:
            if not await count():
                break
            await asyncio.sleep(0.05)
        sweep = Sweep(backlog, time.perf_counter() - started, cpu_seconds(pid) - cpu_blast)
        return result, cpu_blast - cpu_before, database_blast - database_before, sweep
    finally:
        await close()


@dataclass
class PostroomServer:
    engine: str
    process: subprocess.Popen[bytes]
    data: Path
    http_port: int
    smtp_port: int
    url: str  # the database URL for PostgreSQL, "" for SQLite
    database_cpu: Callable[[], float]
    log_path: Path


@contextlib.contextmanager
def postroom_server(engine: str, root: Path) -> Iterator[PostroomServer]:
    """A real ``postroom serve`` on a fresh store (and a fresh PostgreSQL cluster for that engine)."""
    data = root / f"postroom-{engine}"
    data.mkdir(parents=True)
    http_port, smtp_port = free_port(), free_port()
    env = {**os.environ, "POSTROOM_BLOB_FSYNC": "true", "LOG_LEVEL": "WARNING"}
    command = [
        str(POSTROOM),
        "serve",
        "--http-port",
        str(http_port),
        "--smtp-port",
        str(smtp_port),
        "--data",
        str(data),
    ]
    pg: ThrowawayPostgres | None = None
    url = ""
    log_path = data / "server.log"
    try:
        if engine == "postgresql":
            pg = ThrowawayPostgres(root / "pg")
            url = pg.start()
            subprocess.run(
                [str(POSTROOM), "migrate", "--database-url", url], check=True, capture_output=True, env=env, timeout=120
            )
            command += ["--database-url", url]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO)
            try:
                _wait_http(f"http://127.0.0.1:{http_port}/health", process, START_TIMEOUT)
                yield PostroomServer(
                    engine,
                    process,
                    data,
                    http_port,
                    smtp_port,
                    url,
                    pg.cpu_seconds if pg is not None else lambda: 0.0,
                    log_path,
                )
            except BaseException:
                print(_tail(log_path), file=sys.stderr)
                raise
            finally:
                _stop(process)
    finally:
        if pg is not None:
            pg.stop()


def bench_postroom(
    server: PostroomServer, messages: Sequence[tuple[str, str, bytes]], connections: int, stored: int
) -> float:
    """One blast against a running server; ``stored`` is how many messages it should hold afterwards."""
    pid = server.process.pid
    rss_before = rss_mib(pid)
    result, cpu_used, database_cpu, sweep = asyncio.run(
        blast_and_sweep(
            server.engine,
            server.data,
            server.url,
            pid,
            server.smtp_port,
            messages,
            connections,
            server.database_cpu,
        )
    )
    rss_after = rss_mib(pid)
    report_blast(f"postroom/{server.engine}", result, cpu_used)
    if server.url:
        print(
            f"    PostgreSQL CPU {database_cpu:.2f} s ({100 * database_cpu / result.seconds:.0f} % of one "
            f"core, {1e6 * database_cpu / max(result.accepted, 1):,.0f} us/msg)",
            flush=True,
        )
    print(
        f"    parse sweep: {len(messages) - sweep.backlog:,} parsed by the last 250, the other "
        f"{sweep.backlog:,} in {sweep.seconds:.2f} s after it = {sweep.rate:,.0f} msg/s "
        f"(server CPU {sweep.cpu_seconds:.2f} s)",
        flush=True,
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/api/v1/messages?limit=1", timeout=30) as r:
        total = json.loads(r.read())["total"]
    verdict = "OK" if total == stored else "MISMATCH"
    print(
        f"    server RSS {rss_before:.1f} MiB before, {rss_after:.1f} MiB after; "
        f"stored messages (API total) {total:,} of {stored:,}: {verdict}",
        flush=True,
    )
    return result.rate


@dataclass
class BaselineServer:
    loop: str
    process: subprocess.Popen[bytes]
    port: int


@contextlib.contextmanager
def baseline_server(loop: str) -> Iterator[BaselineServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest", "--serve-baseline", str(port), "--baseline-loops", loop],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("baseline server did not start")
        yield BaselineServer(loop, process, port)
    finally:
        _stop(process)


def bench_baseline(server: BaselineServer, messages: Sequence[tuple[str, str, bytes]], connections: int) -> float:
    pid = server.process.pid
    rss_before, cpu_before = rss_mib(pid), cpu_seconds(pid)
    result = asyncio.run(blast(server.port, messages, connections))
    report_blast(f"baseline aiosmtpd on {server.loop} (250 OK, stores nothing)", result, cpu_seconds(pid) - cpu_before)
    print(f"    baseline server RSS {rss_before:.1f} MiB before, {rss_mib(pid):.1f} MiB after", flush=True)
    return result.rate


def serve_baseline(port: int, loop_choice: str) -> None:
    """A bare aiosmtpd server in this process: DATA answers 250 OK and keeps nothing."""
    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            return "250 OK"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        handler = Handler()
        server = await loop.create_server(
            lambda: SMTP(handler, decode_data=False, enable_SMTPUTF8=True, loop=loop), "127.0.0.1", port
        )
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print("ready", flush=True)
        try:
            async with asyncio.timeout(1800):  # never outlive a forgotten run
                await stop.wait()
        except TimeoutError:
            pass
        server.close()

    with asyncio.Runner(loop_factory=loop_factory(loop_choice)) as runner:
        runner.run(main())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--with-baseline", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="baseline and Postroom blasts taken in turn this many times (fresh messages each round)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="parent folder for the data (default: /tmp)")
    parser.add_argument(
        "--baseline-loops",
        default="asyncio,uvloop",
        help="event loops to run the baseline on (Postroom uses POSTROOM_EVENT_LOOP, by default uvloop)",
    )
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.baseline_loops)
        return
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    engines = parse_engines(args.engines)
    # Every round sends fresh messages: the blob store is content-addressed, so a repeat would cost nothing.
    batches = [make_messages(args.messages, seed=11 + n) for n in range(args.rounds)]
    average = sum(len(raw) for batch in batches for _, _, raw in batch) / (args.messages * args.rounds)
    print(
        f"postroom ingest bench  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {os.cpu_count()} CPUs  "
        f"{args.rounds} round(s) of {args.messages:,} messages (average {average / 1024:.1f} KiB) over "
        f"{args.connections} SMTP sessions; blob fsync ON",
        flush=True,
    )
    print(f"  postroom event loop: {loop_name(os.environ.get('POSTROOM_EVENT_LOOP', 'auto'))}", flush=True)
    loops = [loop.strip() for loop in args.baseline_loops.split(",") if loop.strip()] if args.with_baseline else []
    ratios: dict[tuple[str, str], list[float]] = {(engine, loop): [] for engine in engines for loop in loops}
    root = Path(tempfile.mkdtemp(prefix="postroom-ingest-", dir=args.workdir))
    try:
        with contextlib.ExitStack() as stack:
            baselines = [stack.enter_context(baseline_server(loop)) for loop in loops]
            servers = [stack.enter_context(postroom_server(engine, root)) for engine in engines]
            for n, batch in enumerate(batches, start=1):
                print(f"round {n} of {args.rounds}", flush=True)
                ceilings = {b.loop: bench_baseline(b, batch, args.connections) for b in baselines}
                for server in servers:
                    rate = bench_postroom(server, batch, args.connections, stored=n * args.messages)
                    for loop, ceiling in ceilings.items():
                        ratios[server.engine, loop].append(rate / ceiling)
                        print(f"    ratio to baseline on {loop}: {rate / ceiling:.2f}x", flush=True)
        if ratios:
            print("summary (each round's Postroom rate over the baseline measured just before it)", flush=True)
        for (engine, loop), values in ratios.items():
            print(
                f"  ratio postroom/{engine} to baseline on {loop}: median {statistics.median(values):.2f}x "
                f"(rounds: {', '.join(f'{v:.2f}' for v in values)}; target >= 0.80x)",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
