"""`postroom worker` processes share the queue; one killed with SIGKILL mid-batch loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from tests.integration.send.smtp_sink import ScriptedSink

from postroom.app import Postroom
from postroom.config import Settings
from postroom.core.models import Event
from postroom.send.models import Delivery
from postroom.send.queue import TERMINAL
from postroom.send.service import BatchRecipient, BatchRequest

RECIPIENTS = 400


def start_worker(settings: Settings, sink: ScriptedSink, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "STORAGE_DIR": str(settings.storage_dir),
        "EMAIL_PROVIDER": "smtp",
        "SMTP_RELAY_HOST": "127.0.0.1",
        "SMTP_RELAY_PORT": str(sink.port),
        "SMTP_RELAY_TLS": "none",
        "EMAIL_LEASE_SECONDS": "2",
        "EMAIL_WORKER_CONCURRENCY": "16",
        "POSTROOM_JOB_POLL_SECONDS": "0.1",
        "POSTROOM_ENV": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "postroom", "worker"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


async def delivered(app: Postroom) -> int:
    async with app.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).where(Delivery.status.in_(TERMINAL))) or 0)


async def test_sigkilled_worker_loses_no_recipient(settings: Settings, sink: ScriptedSink, tmp_path: Path) -> None:
    app = Postroom(settings)
    await app.start(smtp=False, workers=False, migrate=True)
    try:
        batch = BatchRequest(
            sender="news@example.test",
            subject="Issue {{ n }}",
            text="Hello {{ n }}",
            recipients=[BatchRecipient(f"r{i}@example.test", {"n": i}) for i in range(RECIPIENTS)],
        )
        answer = await app.sending.send_batch(app.default_tenant_id, batch)
        assert answer.body["accepted"] == RECIPIENTS

        first = start_worker(settings, sink, tmp_path / "w1.log")
        second = start_worker(settings, sink, tmp_path / "w2.log")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(sink.received) < RECIPIENTS // 4 and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # mid-batch, with claimed rows in flight
        first.wait()
        third = start_worker(settings, sink, tmp_path / "w3.log")
        while await delivered(app) < RECIPIENTS and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        for process in (second, third):
            process.send_signal(signal.SIGTERM)
        for process in (second, third):  # the sink runs in this loop: wait without blocking it
            # 0 after a graceful stop; -SIGTERM when the signal came while the worker was still starting
            code = await asyncio.to_thread(process.wait, 30)
            assert code in (0, -signal.SIGTERM), (tmp_path / "w2.log").read_text()[-2000:]

        async with app.engine.connect() as conn:
            statuses = Counter(s for (s,) in await conn.execute(select(Delivery.status)))
            retaken = {a for (a,) in await conn.execute(select(Delivery.address).where(Delivery.attempts > 1))}
            terminal_events = Counter(
                subject
                for (subject,) in await conn.execute(
                    select(Event.subject_id).where(Event.type.in_(["email.delivered", "email.failed", "email.bounced"]))
                )
            )
        assert statuses == {"delivered": RECIPIENTS}
        assert len(terminal_events) == RECIPIENTS and set(terminal_events.values()) == {1}
        got = Counter(r.rcpt_tos[0] for r in sink.received)
        assert set(got) == {f"r{i}@example.test" for i in range(RECIPIENTS)}
        # At-least-once: only what the killed worker had taken, and not yet written back, may
        # have gone out twice, and each of those was taken over after its lease ran out.
        twice = {address for address, count in got.items() if count > 1}
        assert max(got.values()) <= 2
        assert twice <= retaken
    finally:
        await app.stop()
