"""Release end to end: a captured message relayed by the job worker to a real SMTP sink."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from tests.integration.capture.capture_support import Received, Sink, find, message, send, smtp_port
from tests.integration.capture.conftest import AppFactory
from tests.services import free_port

from postroom.app import Postroom
from postroom.capture.release import RELEASE_JOB, ReleaseRequest
from postroom.core import jobs
from postroom.core.jobs import Backoff
from postroom.core.models import Job, JobStatus


async def _capture(app: Postroom, raw: bytes) -> int:
    code, _ = await send(smtp_port(app), raw)
    assert code == 250
    (stored,) = await find(app, "")
    return int(stored["id"])


async def _release(app: Postroom, message_id: int, to: list[str], mail_from: str | None = None) -> int:
    request = ReleaseRequest(message_id, app.default_tenant_id, tuple(to), mail_from)
    async with app.engine.begin() as conn:
        return await jobs.enqueue(conn, RELEASE_JOB, request.to_payload(), tenant_id=app.default_tenant_id)


async def _job(app: Postroom, job_id: int) -> Any:
    async with app.engine.connect() as conn:
        return (await conn.execute(select(Job).where(Job.id == job_id))).one()


async def _released(start_app: AppFactory, sink: Sink, **overrides: object) -> Postroom:
    app = await start_app(release_host="127.0.0.1", release_port=sink.port, **overrides)
    app.worker.backoff = Backoff(base_seconds=0.0, jitter=0.0)  # retry at once in tests
    return app


async def test_release_relays_the_exact_bytes(start_app: AppFactory, sink: Sink) -> None:
    app = await _released(start_app, sink)
    raw = (
        b"From: App <app@example.com>\r\nTo: dev@example.com\r\nSubject: to be released\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Gr\xc3\xbc\xc3\x9fe\r\n.\r\n..two dots\r\n"
    )
    message_id = await _capture(app, raw)
    job_id = await _release(app, message_id, ["real@example.org", "ops@example.org"])

    assert await app.worker.run_once() == 1
    job = await _job(app, job_id)
    assert job.status == JobStatus.DONE, job.last_error
    assert job.result == {"accepted": ["real@example.org", "ops@example.org"], "refused": {}}
    assert sink.received == [Received("app@example.com", ["real@example.org", "ops@example.org"], raw)]
    assert raw == await app.messages.raw(app.default_tenant_id, message_id)


async def test_release_through_the_running_worker(start_app: AppFactory, sink: Sink) -> None:
    app = await _released(start_app, sink, workers=True)
    raw = message("released by the worker")
    message_id = await _capture(app, raw)
    job_id = await _release(app, message_id, ["real@example.org"], mail_from="bounces@example.com")
    app.worker.notify()
    await asyncio.wait_for(sink.handler.arrived.wait(), timeout=20)
    await app.worker.stop()  # lets the running job record its outcome
    assert (await _job(app, job_id)).status == JobStatus.DONE
    assert sink.received == [Received("bounces@example.com", ["real@example.org"], raw)]


async def test_a_451_is_retried_then_delivered(start_app: AppFactory, sink: Sink) -> None:
    app = await _released(start_app, sink)
    sink.handler.data_replies.append("451 4.3.0 Try again later")
    message_id = await _capture(app, message("deferred once"))
    job_id = await _release(app, message_id, ["real@example.org"])

    await app.worker.run_once()
    job = await _job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    assert "451" in job.last_error and "ReleaseDeferred" in job.last_error
    assert sink.received == []

    await app.worker.run_once()
    job = await _job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert len(sink.received) == 1


async def test_a_550_fails_the_job_for_good(start_app: AppFactory, sink: Sink) -> None:
    app = await _released(start_app, sink)
    sink.handler.rcpt_reply = "550 5.1.1 No such user"
    message_id = await _capture(app, message("refused"))
    job_id = await _release(app, message_id, ["nobody@example.org"])

    await app.worker.run_once()
    job = await _job(app, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert "550" in job.last_error
    assert await app.worker.run_once() == 0
    assert sink.received == []


async def test_recipients_outside_the_allow_rule_are_refused(start_app: AppFactory, sink: Sink) -> None:
    app = await _released(start_app, sink, release_allowed_recipients=r"@example\.org$")
    message_id = await _capture(app, message("not for them"))
    job_id = await _release(app, message_id, ["ok@example.org", "leak@customer.com"])

    await app.worker.run_once()
    job = await _job(app, job_id)
    assert job.status == JobStatus.DEAD
    assert "leak@customer.com" in job.last_error and "ok@example.org" not in job.last_error
    assert sink.received == []


async def test_an_unreachable_server_is_retried(start_app: AppFactory) -> None:
    app = await start_app(release_host="127.0.0.1", release_port=free_port())
    message_id = await _capture(app, message("nobody listening"))
    job_id = await _release(app, message_id, ["real@example.org"])

    await app.worker.run_once()
    job = await _job(app, job_id)
    assert job.status == JobStatus.QUEUED
    assert "cannot reach the release server" in job.last_error


async def test_a_deleted_message_fails_the_job_for_good(start_app: AppFactory, sink: Sink) -> None:
    app = await _released(start_app, sink)
    message_id = await _capture(app, message("gone before release"))
    job_id = await _release(app, message_id, ["real@example.org"])
    await app.messages.delete(app.default_tenant_id, message_id)

    await app.worker.run_once()
    job = await _job(app, job_id)
    assert job.status == JobStatus.DEAD and "no longer exists" in job.last_error
