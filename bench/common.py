"""Helpers shared by the benchmarks: memory and CPU readings, percentiles, throw-away PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ENGINES = ("sqlite", "postgresql")


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process (VmRSS from /proc), in MiB; 0.0 if it is gone."""
    try:
        status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) a process has used so far; 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of ``values``; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    def line(self) -> str:
        return (
            f"n={self.count:<5d} p50={self.p50_ms:8.2f} ms  p95={self.p95_ms:8.2f} ms  "
            f"p99={self.p99_ms:8.2f} ms  max={self.max_ms:8.2f} ms  mean={self.mean_ms:8.2f} ms"
        )


def summarise(seconds: Sequence[float]) -> Summary:
    ms = [s * 1000 for s in seconds]
    return Summary(
        count=len(ms),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=max(ms, default=0.0),
        mean_ms=statistics.fmean(ms) if ms else 0.0,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_engines(value: str) -> list[str]:
    engines = [e.strip() for e in value.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    return engines


class ThrowawayPostgres:
    """A temporary PostgreSQL cluster (tests.services.PostgresServer) with one fresh database."""

    def __init__(self, root: Path, database: str = "postroom_bench") -> None:
        from tests.services import PostgresServer

        self.server = PostgresServer(root)
        self.database = database

    @property
    def url(self) -> str:
        return self.server.url(self.database)

    def start(self) -> str:
        self.server.start()
        with ThreadPoolExecutor(1) as pool:  # callable with or without a running event loop
            pool.submit(asyncio.run, self._create_database()).result()
        return self.url

    async def _create_database(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.server.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    def _cluster_pids(self) -> list[int]:
        """The postmaster and its children (backends, WAL writer, checkpointer...)."""
        pid_file = self.server.data / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        pids = [postmaster]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == postmaster:
                    pids.append(int(entry.name))
        return pids

    def backend_rss_mib(self) -> float:
        """Sum of VmRSS over the cluster's processes."""
        return sum(rss_mib(pid) for pid in self._cluster_pids())

    def cpu_seconds(self) -> float:
        """CPU time the cluster's live processes have used so far (those that exited are not counted)."""
        return sum(cpu_seconds(pid) for pid in self._cluster_pids())

    def stop(self) -> None:
        self.server.stop()
