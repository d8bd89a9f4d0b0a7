"""The smtp transport against a real SMTP server on loopback with scripted answers."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.integration.conftest import LiveFactory, LiveServer
from tests.integration.send.smtp_sink import ScriptedSink
from tests.integration.send.test_send_api import wait_for_status
from tests.services import free_port

from postroom.auth.roles import Role


async def send(client: httpx.AsyncClient, to: list[str], subject: str = "hello") -> int:
    answer = await client.post(
        "/api/v1/emails", json={"from": "App <app@example.test>", "to": to, "subject": subject, "text": "body"}
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["id"])


async def test_accepted_mail_is_delivered_over_reused_connections(relay_live: LiveServer, sink: ScriptedSink) -> None:
    async with relay_live.client(await relay_live.api_key(Role.DEVELOPER)) as client:
        ids = [await send(client, [f"user{i}@example.test"], subject=f"n{i}") for i in range(12)]
        for email_id in ids:
            body = await wait_for_status(client, email_id, {"delivered"})
            assert body["recipients"][0]["last_response"].startswith("250")
    assert sorted(r.rcpt_tos[0] for r in sink.received) == sorted(f"user{i}@example.test" for i in range(12))
    # VERP return path names the delivery; the pool reuses connections instead of one per message.
    assert all(r.mail_from.startswith("bounces+") and r.mail_from.endswith("@example.test") for r in sink.received)
    assert sink.handler.connections < 12
    message = sink.received[0].data
    assert b"\r\nMessage-ID: <" in message and b"X-Postroom-Delivery:" in message


async def test_5xx_bounces_and_suppresses_4xx_defers_then_fails(relay_live: LiveServer, sink: ScriptedSink) -> None:
    async with relay_live.client(await relay_live.api_key(Role.DEVELOPER)) as client:
        email_id = await send(client, ["bounce@example.test", "defer@example.test", "policy@example.test"])
        body = await wait_for_status(client, email_id, {"bounced", "failed"})
        bounce, defer, policy = body["recipients"]
        assert bounce["status"] == "bounced" and "5.1.1" in bounce["last_response"]
        assert [e["type"] for e in bounce["events"]] == ["accepted", "queued", "bounced"]
        assert bounce["events"][-1]["suppressed"] is True
        assert defer["status"] == "failed" and defer["attempts"] == 3  # 1 + EMAIL_WORKER_MAX_RETRIES
        assert [e["type"] for e in defer["events"]] == ["accepted", "queued", "deferred", "deferred", "failed"]
        assert policy["status"] == "bounced" and policy["events"][-1]["suppressed"] is False  # 5.7.1: not the address

        assert (await client.get("/api/v1/suppressions/bounce@example.test")).status_code == 200
        assert (await client.get("/api/v1/suppressions/policy@example.test")).status_code == 404
    assert sink.received == []


async def test_temporary_data_failure_is_retried_until_delivered(relay_live: LiveServer, sink: ScriptedSink) -> None:
    async with relay_live.client(await relay_live.api_key(Role.DEVELOPER)) as client:
        email_id = await send(client, ["flaky@example.test"])
        body = await wait_for_status(client, email_id, {"delivered"})
        events = [e["type"] for e in body["recipients"][0]["events"]]
        assert events == ["accepted", "queued", "deferred", "sent", "delivered"]
        assert body["recipients"][0]["attempts"] == 2
    assert [r.rcpt_tos for r in sink.received] == [["flaky@example.test"]]


async def test_dropped_connection_and_timeout_are_deferred(relay_live: LiveServer, sink: ScriptedSink) -> None:
    async with relay_live.client(await relay_live.api_key(Role.DEVELOPER)) as client:
        email_id = await send(client, ["drop@example.test", "hang@example.test", "fine@example.test"])
        body = await wait_for_status(client, email_id, {"failed", "delivered"}, seconds=40)
        drop, hang, fine = body["recipients"]
        assert drop["status"] == "failed" and hang["status"] == "failed" and fine["status"] == "delivered"
        assert all(e["type"] != "bounced" for e in drop["events"] + hang["events"])
    assert [r.rcpt_tos for r in sink.received] == [["fine@example.test"]]


def tls_relay(tmp_path: Path, password: str) -> dict[str, object]:
    """Settings whose relay is Postroom's own capture port, requiring STARTTLS and a password."""
    users = tmp_path / "smtp-users"
    users.write_text("mailer:s3cret-pass\n")
    port = free_port()
    return {
        "smtp": True,
        "smtp_port": port,
        "smtp_auth": "file",
        "smtp_auth_file": users,
        "smtp_tls": "starttls",
        "smtp_auth_allow_insecure": False,
        "email_provider": "smtp",
        "smtp_relay_host": "127.0.0.1",
        "smtp_relay_port": port,
        "smtp_relay_tls": "starttls",
        "smtp_relay_verify_tls": False,  # the capture server's certificate is self-signed
        "smtp_relay_username": "mailer",
        "smtp_relay_password": password,
        "email_retry_delay": 0.1,
        "email_retry_max_delay": 0.2,
        "email_worker_max_retries": 1,
    }


async def test_relay_over_starttls_with_a_login(live_factory: LiveFactory, tmp_path: Path) -> None:
    live = await live_factory(**tls_relay(tmp_path, "s3cret-pass"))
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        email_id = await send(client, ["tls@example.test"], subject="over tls")
        body = await wait_for_status(client, email_id, {"delivered"})
        assert body["recipients"][0]["transport"] == "smtp"
        inbox = (await client.get("/api/v1/messages", params={"query": 'subject:"over tls"'})).json()
        assert inbox["total"] == 1  # it arrived through the relay, which is the capture port


async def test_a_refused_relay_login_is_retried_then_fails(live_factory: LiveFactory, tmp_path: Path) -> None:
    live = await live_factory(**tls_relay(tmp_path, "wrong"))
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        email_id = await send(client, ["tls@example.test"], subject="bad login")
        body = await wait_for_status(client, email_id, {"failed"})
        assert "refused the login" in body["recipients"][0]["last_response"]
        assert [e["type"] for e in body["recipients"][0]["events"]][-2:] == ["deferred", "failed"]
