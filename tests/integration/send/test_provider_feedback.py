"""Sending through HTTP providers (local servers speaking their APIs) and their signed event webhooks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.fakes.mailgun import FakeMailgun, mailgun_delivery
from tests.fakes.sendgrid import FakeSendGrid, SendGridWebhookSigner
from tests.fakes.ses import FakeSes
from tests.fakes.sns import FakeSns
from tests.integration.conftest import LiveFactory, LiveServer
from tests.integration.send.test_send_api import wait_for_status

from postroom.auth.roles import Role
from postroom.send.models import TransportConfig


@pytest.fixture
async def fake_sendgrid() -> AsyncIterator[FakeSendGrid]:
    server = FakeSendGrid(api_key="SG.test-key")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def fake_mailgun() -> AsyncIterator[FakeMailgun]:
    server = FakeMailgun(api_key="mg-key", domain="mg.example.test")
    await server.start()
    yield server
    await server.stop()


async def admin_client(live: LiveServer) -> httpx.AsyncClient:
    return live.client(await live.api_key(Role.ADMIN))


async def test_sendgrid_transport_and_signed_events(live_factory: LiveFactory, fake_sendgrid: FakeSendGrid) -> None:
    signer = SendGridWebhookSigner()
    live = await live_factory(sendgrid_webhook_public_key=signer.public_key, webhook_allow_private=True)
    async with await admin_client(live) as client:
        saved = await client.put(
            "/api/v1/sending/transports",
            json={"provider": "sendgrid", "options": {"api_key": "SG.test-key", "base_url": fake_sendgrid.base_url}},
        )
        assert saved.status_code == 200, saved.text
        listed = (await client.get("/api/v1/sending/transports")).json()
        assert listed["items"][0]["options"]["api_key"] == "********"  # never shown again
        async with live.postroom.engine.connect() as conn:
            stored = await conn.scalar(select(TransportConfig.options))
        assert stored and b"SG.test-key" not in stored  # encrypted at rest

        sent = (
            await client.post(
                "/api/v1/emails",
                json={
                    "from": "shop@example.test",
                    "to": ["ok@example.test", "gone@example.test"],
                    "subject": "Receipt",
                    "text": "Thanks",
                },
            )
        ).json()
        body = await wait_for_status(client, sent["id"], {"sent"})
        ok, gone = body["recipients"]
        assert ok["transport"] == "sendgrid" and ok["provider_message_id"] in fake_sendgrid.issued_ids
        assert len(fake_sendgrid.received) == 2

        now = int(time.time())
        events = [
            {"email": "ok@example.test", "event": "delivered", "sg_event_id": "ev-1", "timestamp": now,
             "sg_message_id": f"{ok['provider_message_id']}.filter0001", "response": "250 2.0.0 OK"},
            {"email": "gone@example.test", "event": "bounce", "type": "bounce", "sg_event_id": "ev-2",
             "timestamp": now, "sg_message_id": f"{gone['provider_message_id']}.filter0002",
             "reason": "550 5.1.1 unknown user"},
        ]  # fmt: skip
        headers, payload = signer.delivery(events, now)
        async with httpx.AsyncClient(base_url=live.base_url) as anonymous:
            answer = await anonymous.post("/api/v1/webhooks/sendgrid", content=payload, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["matched"] == 2

            replay = await anonymous.post("/api/v1/webhooks/sendgrid", content=payload, headers=headers)
            assert replay.status_code == 401
            tampered = await anonymous.post(
                "/api/v1/webhooks/sendgrid", content=payload.replace(b"bounce", b"delivered"), headers=headers
            )
            assert tampered.status_code == 401
            assert tampered.headers["content-type"] == "application/problem+json"
            stale_headers, stale_payload = signer.delivery(events, now - 3600)
            stale = await anonymous.post("/api/v1/webhooks/sendgrid", content=stale_payload, headers=stale_headers)
            assert stale.status_code == 401

        body = (await client.get(f"/api/v1/emails/{sent['id']}")).json()
        assert [r["status"] for r in body["recipients"]] == ["delivered", "bounced"]
        assert [e["type"] for e in body["recipients"][1]["events"]][-1] == "bounced"
        suppressed = (await client.get("/api/v1/suppressions/gone@example.test")).json()
        assert suppressed["reason"] == "hard_bounce"

        again = (
            await client.post(
                "/api/v1/emails",
                json={"from": "shop@example.test", "to": "gone@example.test", "subject": "Again", "text": "x"},
            )
        ).json()
        assert again["recipients"][0]["status"] == "suppressed"
        assert len(fake_sendgrid.received) == 2  # the suppressed address never reached the provider


async def test_provider_errors_defer_and_bounce(live_factory: LiveFactory, fake_sendgrid: FakeSendGrid) -> None:
    live = await live_factory(
        email_retry_delay=0.1, email_retry_max_delay=0.2, email_worker_max_retries=1, webhook_allow_private=True
    )
    async with await admin_client(live) as client:
        await client.put(
            "/api/v1/sending/transports",
            json={"provider": "sendgrid", "options": {"api_key": "SG.test-key", "base_url": fake_sendgrid.base_url}},
        )
        fake_sendgrid.answer_next(429, {"errors": [{"message": "too many requests"}]})
        fake_sendgrid.answer_next(429, {"errors": [{"message": "too many requests"}]})
        sent = (
            await client.post(
                "/api/v1/emails", json={"from": "a@example.test", "to": "b@example.test", "subject": "s", "text": "t"}
            )
        ).json()
        body = await wait_for_status(client, sent["id"], {"failed"})
        timeline = [e["type"] for e in body["recipients"][0]["events"]]
        assert timeline == ["accepted", "queued", "deferred", "failed"]
        dead = (await client.get("/api/v1/deliveries", params={"status": "failed"})).json()["items"]
        assert [d["id"] for d in dead] == [body["recipients"][0]["id"]]

        requeued = await client.post("/api/v1/deliveries/requeue", json={"ids": [dead[0]["id"]]})
        assert requeued.json() == {"requeued": 1}
        body = await wait_for_status(client, sent["id"], {"sent"})
        assert body["recipients"][0]["attempts"] == 1


async def test_mailgun_webhook_token_cannot_be_replayed(live_factory: LiveFactory, fake_mailgun: FakeMailgun) -> None:
    live = await live_factory(mailgun_webhook_signing_key="mg-signing-key", webhook_allow_private=True)
    async with await admin_client(live) as client:
        await client.put(
            "/api/v1/sending/transports",
            json={
                "domain": "example.test",
                "provider": "mailgun",
                "options": {"api_key": "mg-key", "domain": "mg.example.test", "base_url": fake_mailgun.base_url},
            },
        )
        sent = (
            await client.post(
                "/api/v1/emails", json={"from": "a@example.test", "to": "c@example.test", "subject": "s", "text": "t"}
            )
        ).json()
        body = await wait_for_status(client, sent["id"], {"sent"})
        delivery = body["recipients"][0]
        event = {
            "event": "complained",
            "recipient": "c@example.test",
            "timestamp": time.time(),
            "id": "mg-ev-1",
            "message": {"headers": {"message-id": delivery["provider_message_id"]}},
            "user-variables": {"postroom-reference": str(delivery["id"])},
        }
        headers, payload = mailgun_delivery("mg-signing-key", event, int(time.time()), token="t" * 50)
        async with httpx.AsyncClient(base_url=live.base_url) as anonymous:
            first = await anonymous.post("/api/v1/webhooks/mailgun", content=payload, headers=headers)
            assert first.status_code == 200, first.text
            assert (
                await anonymous.post("/api/v1/webhooks/mailgun", content=payload, headers=headers)
            ).status_code == 401
            unconfigured = await anonymous.post("/api/v1/webhooks/mailersend", content=b"{}")
            assert unconfigured.status_code == 404
        body = (await client.get(f"/api/v1/emails/{sent['id']}")).json()
        assert body["recipients"][0]["status"] == "complained"
        assert (await client.get("/api/v1/suppressions/c@example.test")).json()["reason"] == "complaint"


@pytest.fixture
async def fake_ses() -> AsyncIterator[FakeSes]:
    server = FakeSes(access_key_id="AKIDEXAMPLE", secret_access_key="secret-key", region="eu-west-1")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def fake_sns(tmp_path: Path) -> AsyncIterator[FakeSns]:
    server = FakeSns()
    await server.start_https(tmp_path)
    yield server
    await server.stop()


# The fakes come first so that they outlive Postroom (whose connections they would wait for).
async def test_ses_from_the_environment_and_sns_events(
    fake_ses: FakeSes, fake_sns: FakeSns, live_factory: LiveFactory, tmp_path: Path
) -> None:
    ses, sns = fake_ses, fake_sns
    bundle = tmp_path / "sns-ca.pem"
    bundle.write_bytes((tmp_path / "sns-tls.pem").read_bytes())  # the fake's self-signed TLS certificate
    live = await live_factory(
        email_provider="ses",
        ses_region="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret-key",
        ses_endpoint_url=ses.base_url,
        sns_cert_host_pattern=r"127\.0\.0\.1",
        sns_ca_bundle=bundle,
    )
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        sent = (
            await client.post(
                "/api/v1/emails",
                json={"from": "a@example.test", "to": "d@example.test", "subject": "via ses", "text": "t"},
            )
        ).json()
        delivery = (await wait_for_status(client, sent["id"], {"sent"}))["recipients"][0]
        assert delivery["transport"] == "ses"
        now = datetime.now(UTC)
        async with httpx.AsyncClient(base_url=live.base_url) as anonymous:
            headers, body = sns.subscription_confirmation(timestamp=now)
            confirmed = await anonymous.post("/api/v1/webhooks/ses", content=body, headers=headers)
            assert confirmed.status_code == 200 and sns.confirmed  # SubscribeURL was visited
            record = {
                "eventType": "Delivery",
                "mail": {
                    "timestamp": now.isoformat(),
                    "source": "a@example.test",
                    "messageId": delivery["provider_message_id"],
                    "destination": ["d@example.test"],
                    "tags": {"postroom-reference": [str(delivery["id"])]},
                },
                "delivery": {"timestamp": now.isoformat(), "recipients": ["d@example.test"],
                             "smtpResponse": "250 2.6.0 Message received"},
            }  # fmt: skip
            headers, body = sns.notification(record, timestamp=now)
            answer = await anonymous.post("/api/v1/webhooks/ses", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            forged = await anonymous.post(
                "/api/v1/webhooks/ses", content=body.replace(b"Delivery", b"Bounce"), headers=headers
            )
            assert forged.status_code == 401
        found = (await client.get(f"/api/v1/emails/{sent['id']}")).json()
        assert found["recipients"][0]["status"] == "delivered"
        assert found["recipients"][0]["events"][-1]["source"] == "ses"


async def test_a_tenant_cannot_point_a_transport_at_the_server_s_network(live: LiveServer) -> None:
    async with await admin_client(live) as client:
        for provider, options in [
            ("sendgrid", {"api_key": "k", "base_url": "http://127.0.0.1:8025"}),
            ("ses", {"region": "eu-west-1", "access_key_id": "a", "secret_access_key": "s",
                     "endpoint_url": "http://169.254.169.254/latest"}),
            ("smtp", {"host": "10.0.0.5"}),
        ]:  # fmt: skip
            answer = await client.put("/api/v1/sending/transports", json={"provider": provider, "options": options})
            assert answer.status_code == 422, (provider, answer.text)
            assert answer.json()["errors"][0]["field"] == "options"
        assert (await client.get("/api/v1/sending/transports")).json()["items"] == []
