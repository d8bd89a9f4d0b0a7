"""Time-to-250 of single messages that arrive while the server parses a backlog.

A test suite sends a burst, then more mail a moment later: the later mail meets the parse
sweeper catching up on the burst, in a thread that shares the GIL with the SMTP sessions.
For each engine, a real ``postroom serve`` first takes ``--spaced`` messages one at a time
(``--gap`` seconds apart, nothing to parse: the quiet figures), then a burst of
``--backlog`` messages over 16 sessions, then ``--spaced`` messages as before, which now
arrive during the sweep. Prints p50/p90/max time-to-250 of both sets.

    .venv/bin/python -m bench.sweep_latency --engines sqlite,postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import parse_engines, percentile
from bench.ingest import _session, blast, make_messages, postroom_server


async def spaced(port: int, messages: Sequence[tuple[str, str, bytes]], gap: float) -> list[float]:
    """Each message in a session of its own, ``gap`` seconds apart; their time-to-250s."""
    latencies: list[float] = []
    for message in messages:
        await _session(port, [message], latencies)
        await asyncio.sleep(gap)
    return latencies


def describe(label: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{label}: p50 {percentile(ms, 50):.1f} ms, p90 {percentile(ms, 90):.1f} ms, max {max(ms):.1f} ms"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--backlog", type=int, default=5000, help="messages in the burst the sweeper then parses")
    parser.add_argument("--spaced", type=int, default=20, help="single messages sent before and after the burst")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between the single messages")
    args = parser.parse_args(argv)
    if min(args.backlog, args.spaced) < 1 or args.gap < 0:
        parser.error("--backlog and --spaced must be 1 or more, --gap 0 or more")
    root = Path(tempfile.mkdtemp(prefix="postroom-sweep-"))
    try:
        for engine in parse_engines(args.engines):
            with postroom_server(engine, root) as server:
                quiet = asyncio.run(spaced(server.smtp_port, make_messages(args.spaced, seed=5), args.gap))
                burst = asyncio.run(blast(server.smtp_port, make_messages(args.backlog, seed=6), 16))
                during = asyncio.run(spaced(server.smtp_port, make_messages(args.spaced, seed=7), args.gap))
            print(f"postroom/{engine}: burst of {burst.accepted:,} at {burst.rate:,.0f} msg/s", flush=True)
            print(f"  {describe('single messages, nothing to parse', quiet)}", flush=True)
            print(f"  {describe('single messages during the sweep', during)}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
