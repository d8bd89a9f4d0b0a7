"""Provider event webhooks: signatures checked, every event type read into a ProviderEvent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fakes import FakeSns, SendGridWebhookSigner, mailersend_delivery, mailgun_delivery
from tests.fakes.sns import CERT_PATH, TOPIC_ARN, fresh_rsa_key

from postroom.config import Settings
from postroom.send.provider_events import (
    DEFAULT_CERT_HOST_PATTERN,
    MailerSendWebhookConfig,
    MailgunWebhookConfig,
    ProviderEvent,
    SendGridWebhookConfig,
    SesWebhookConfig,
    SnsFetcher,
    WebhookSignatureError,
    mailersend,
    mailgun,
    sendgrid,
    ses,
)

NOW = datetime.now(UTC).replace(microsecond=0)
STAMP = int(NOW.timestamp())


# SES via SNS -------------------------------------------------------------------------------------


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[FakeSns]:
    server = FakeSns()
    await server.start_https(tmp_path)
    yield server
    await server.stop()


@pytest.fixture
async def ses_config(sns: FakeSns) -> AsyncIterator[SesWebhookConfig]:
    fetcher = SnsFetcher(r"127\.0\.0\.1", verify=sns.client_context())
    yield SesWebhookConfig(fetcher=fetcher)
    await fetcher.close()


MAIL = {
    "timestamp": "2026-12-01T10:00:00.000Z",
    "source": "shop@example.com",
    "messageId": "010001abcdef-0000",
    "destination": ["ann@example.net"],
    "tags": {"postroom-reference": ["dlv_42"], "ses:configuration-set": ["events"]},
}


def ses_record(event_type: str, **detail: Any) -> dict[str, Any]:
    return {"eventType": event_type, "mail": MAIL, **detail}


SES_RECORDS: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    (
        ses_record(
            "Bounce",
            bounce={
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "timestamp": "2026-12-01T10:00:01.000Z",
                "feedbackId": "f1",
                "bouncedRecipients": [
                    {
                        "emailAddress": "ann@example.net",
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
            },
        ),
        [{"type": "bounced", "bounce_kind": "hard", "diagnostic": "smtp; 550 5.1.1 user unknown"}],
    ),
    (
        ses_record(
            "Bounce",
            bounce={
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "timestamp": "2026-12-01T10:00:01.000Z",
                "bouncedRecipients": [{"emailAddress": "ann@example.net", "status": "4.2.2"}],
            },
        ),
        [{"type": "bounced", "bounce_kind": "soft", "diagnostic": "4.2.2"}],
    ),
    (
        ses_record(
            "Complaint",
            complaint={
                "complainedRecipients": [{"emailAddress": "ann@example.net"}],
                "timestamp": "2026-12-01T11:00:00.000Z",
                "complaintFeedbackType": "abuse",
            },
        ),
        [{"type": "complained", "diagnostic": "abuse"}],
    ),
    (
        ses_record(
            "Delivery",
            delivery={
                "timestamp": "2026-12-01T10:00:02.000Z",
                "recipients": ["ann@example.net"],
                "smtpResponse": "250 2.6.0 Message received",
            },
        ),
        [{"type": "delivered", "diagnostic": "250 2.6.0 Message received"}],
    ),
    (ses_record("Send", send={}), [{"type": "sent"}]),
    (ses_record("Reject", reject={"reason": "Bad content"}), [{"type": "failed", "diagnostic": "Bad content"}]),
    (
        ses_record("Open", open={"ipAddress": "192.0.2.1", "timestamp": "2026-12-01T12:00:00.000Z"}),
        [{"type": "opened"}],
    ),
    (
        ses_record("Click", click={"link": "https://example.com/order/1", "timestamp": "2026-12-01T12:01:00.000Z"}),
        [{"type": "clicked", "url": "https://example.com/order/1"}],
    ),
    (
        ses_record(
            "DeliveryDelay",
            deliveryDelay={
                "timestamp": "2026-12-01T10:30:00.000Z",
                "delayType": "TransientCommunicationFailure",
                "delayedRecipients": [
                    {"emailAddress": "ann@example.net", "status": "4.4.1", "diagnosticCode": "smtp; 421 try later"}
                ],
            },
        ),
        [{"type": "deferred", "bounce_kind": "soft", "diagnostic": "smtp; 421 try later"}],
    ),
    (
        ses_record("Rendering Failure", failure={"errorMessage": "Attribute 'name' is not present"}),
        [{"type": "failed", "diagnostic": "Attribute 'name' is not present"}],
    ),
    (
        ses_record("Subscription", subscription={"timestamp": "2026-12-01T13:00:00.000Z"}),
        [{"type": "unsubscribed"}],
    ),
    (
        # Identity notifications (not event publishing) name the type in notificationType.
        {
            "notificationType": "Bounce",
            "mail": MAIL,
            "bounce": {
                "bounceType": "Permanent",
                "timestamp": "2026-12-01T10:00:01.000Z",
                "bouncedRecipients": [{"emailAddress": "ann@example.net", "diagnosticCode": "550 no such user"}],
            },
        },
        [{"type": "bounced", "bounce_kind": "hard", "diagnostic": "550 no such user"}],
    ),
]


@pytest.mark.parametrize(
    ("record", "expected"),
    SES_RECORDS,
    ids=[r["eventType" if "eventType" in r else "notificationType"] for r, _ in SES_RECORDS],
)
async def test_every_ses_event_type_is_read(
    sns: FakeSns, ses_config: SesWebhookConfig, record: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    headers, body = sns.notification(record, timestamp=NOW)
    delivery = await ses.verify_and_parse(headers, body, ses_config, NOW)
    assert delivery.type == "Notification" and not delivery.needs_confirmation
    message_id = json.loads(body)["MessageId"]
    assert [
        {key: getattr(event, key) for key in ("type", "bounce_kind", "diagnostic", "url")} for event in delivery.events
    ] == [{"bounce_kind": None, "diagnostic": None, "url": None, **item} for item in expected]
    for event in delivery.events:
        assert (event.provider, event.event_id, event.recipient) == ("ses", message_id, "ann@example.net")
        assert (event.provider_message_id, event.reference) == ("010001abcdef-0000", "dlv_42")
        assert event.timestamp.tzinfo is not None


async def test_a_ses_bounce_for_two_recipients_gives_two_events_with_distinct_ids(
    sns: FakeSns, ses_config: SesWebhookConfig
) -> None:
    record = ses_record(
        "Bounce",
        bounce={
            "bounceType": "Permanent",
            "timestamp": "2026-12-01T10:00:01.000Z",
            "bouncedRecipients": [{"emailAddress": "ann@example.net"}, {"emailAddress": "bob@example.net"}],
        },
    )
    headers, body = sns.notification(record, timestamp=NOW, version=2)
    delivery = await ses.verify_and_parse(headers, body, ses_config, NOW)
    assert [event.recipient for event in delivery.events] == ["ann@example.net", "bob@example.net"]
    assert len({event.event_id for event in delivery.events}) == 2
    assert delivery.events[0].timestamp == datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC)


async def test_sns_signature_versions_1_and_2_verify_and_the_certificate_is_fetched_once(
    sns: FakeSns, ses_config: SesWebhookConfig
) -> None:
    for version in (1, 2, 1):
        headers, body = sns.notification(ses_record("Send"), timestamp=NOW, version=version, subject="SES event")
        delivery = await ses.verify_and_parse(headers, body, ses_config, NOW)
        assert [event.type for event in delivery.events] == ["sent"]
    assert [request.path for request in sns.received] == [CERT_PATH]


async def test_a_signed_plain_text_notification_has_no_events(sns: FakeSns, ses_config: SesWebhookConfig) -> None:
    headers, body = sns.notification("Successfully validated SNS topic for Amazon SES event publishing.", timestamp=NOW)
    delivery = await ses.verify_and_parse(headers, body, ses_config, NOW)
    assert delivery.events == [] and delivery.topic_arn == TOPIC_ARN


async def test_sns_subscription_confirmation_is_returned_and_can_be_confirmed(
    sns: FakeSns, ses_config: SesWebhookConfig
) -> None:
    headers, body = sns.subscription_confirmation(timestamp=NOW, version=2)
    delivery = await ses.verify_and_parse(headers, body, ses_config, NOW)
    assert delivery.needs_confirmation and delivery.events == []
    assert delivery.subscribe_url is not None and "Action=ConfirmSubscription" in delivery.subscribe_url
    await ses_config.fetcher.confirm(delivery.subscribe_url)
    assert sns.confirmed == [json.loads(body)["Token"]]


async def test_a_tampered_sns_message_is_refused(sns: FakeSns, ses_config: SesWebhookConfig) -> None:
    headers, body = sns.notification(
        ses_record("Delivery", delivery={"recipients": ["ann@example.net"]}), timestamp=NOW
    )
    message = json.loads(body)
    message["Message"] = message["Message"].replace("ann@example.net", "eve@example.net")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await ses.verify_and_parse(headers, json.dumps(message).encode(), ses_config, NOW)


async def test_an_sns_message_signed_by_another_key_is_refused(sns: FakeSns, ses_config: SesWebhookConfig) -> None:
    other = FakeSns(signing_key=fresh_rsa_key())  # its messages name the certificate of the server under test
    headers, body = other.notification(ses_record("Send"), timestamp=NOW, cert_url=sns.cert_url)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await ses.verify_and_parse(headers, body, ses_config, NOW)
    assert len(sns.received) == 1


async def test_a_stale_sns_message_is_refused(sns: FakeSns, ses_config: SesWebhookConfig) -> None:
    headers, body = sns.notification(ses_record("Send"), timestamp=NOW - timedelta(minutes=6))
    with pytest.raises(WebhookSignatureError, match="stale"):
        await ses.verify_and_parse(headers, body, ses_config, NOW)
    looser = SesWebhookConfig(fetcher=ses_config.fetcher, tolerance_seconds=600)
    assert len((await ses.verify_and_parse(headers, body, looser, NOW)).events) == 1


@pytest.mark.parametrize("cert_url", ["https://localhost:{port}/cert.pem", "http://127.0.0.1:{port}/cert.pem"])
async def test_a_certificate_from_a_disallowed_host_or_over_http_is_never_fetched(
    sns: FakeSns, ses_config: SesWebhookConfig, cert_url: str
) -> None:
    headers, body = sns.notification(ses_record("Send"), timestamp=NOW, cert_url=cert_url.format(port=sns.port))
    with pytest.raises(WebhookSignatureError, match=r"https|does not match"):
        await ses.verify_and_parse(headers, body, ses_config, NOW)
    assert sns.received == []


async def test_the_default_pattern_allows_only_amazon_sns_hosts() -> None:
    assert Settings(_env_file=None).sns_cert_host_pattern == DEFAULT_CERT_HOST_PATTERN  # type: ignore[call-arg]
    fetcher = SnsFetcher()
    try:
        fetcher.check_url("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem", "certificate")
        fetcher.check_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", "certificate")
        for url in (
            "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
            "https://evilsns.eu-west-1.amazonaws.com/cert.pem",
            "https://s3.amazonaws.com/cert.pem",
        ):
            with pytest.raises(WebhookSignatureError):
                fetcher.check_url(url, "certificate")
    finally:
        await fetcher.close()


async def test_sns_header_type_topic_and_body_shape_are_checked(sns: FakeSns, ses_config: SesWebhookConfig) -> None:
    headers, body = sns.notification(ses_record("Send"), timestamp=NOW)
    with pytest.raises(WebhookSignatureError, match="x-amz-sns-message-type"):
        await ses.verify_and_parse({**headers, "x-amz-sns-message-type": "SubscriptionConfirmation"}, body, ses_config)
    only_other_topic = SesWebhookConfig(fetcher=ses_config.fetcher, topic_arns=frozenset({"arn:aws:sns:x:1:other"}))
    with pytest.raises(WebhookSignatureError, match="topic"):
        await ses.verify_and_parse(headers, body, only_other_topic, NOW)
    for bad in (b"not json", b"[1, 2]", json.dumps({"Type": "Notification"}).encode()):
        with pytest.raises(WebhookSignatureError):
            await ses.verify_and_parse({}, bad, ses_config, NOW)
    unsigned = {**json.loads(body), "SignatureVersion": "3"}
    with pytest.raises(WebhookSignatureError, match="SignatureVersion"):
        await ses.verify_and_parse({}, json.dumps(unsigned).encode(), ses_config, NOW)


# SendGrid ----------------------------------------------------------------------------------------


def sendgrid_event(event: str, **fields: Any) -> dict[str, Any]:
    return {
        "email": "ann@example.net",
        "timestamp": STAMP,
        "event": event,
        "sg_event_id": f"sg-{event}-{fields.get('type', '')}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "postroom_reference": "dlv_42",
        **fields,
    }


SENDGRID_EVENTS: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
    (sendgrid_event("processed"), None),
    (sendgrid_event("delivered", response="250 OK"), {"type": "delivered", "diagnostic": "250 OK"}),
    (
        sendgrid_event("deferred", response="400 try again later", attempt="5"),
        {"type": "deferred", "bounce_kind": "soft", "diagnostic": "400 try again later"},
    ),
    (
        sendgrid_event("bounce", type="bounce", reason="500 unknown recipient", status="5.0.0"),
        {"type": "bounced", "bounce_kind": "hard", "diagnostic": "500 unknown recipient"},
    ),
    (
        sendgrid_event("bounce", type="blocked", reason="550 blocked by policy", status="5.7.1"),
        {"type": "bounced", "bounce_kind": "soft", "diagnostic": "550 blocked by policy"},
    ),
    (sendgrid_event("dropped", reason="Bounced Address"), {"type": "failed", "diagnostic": "Bounced Address"}),
    (sendgrid_event("spamreport"), {"type": "complained"}),
    (sendgrid_event("open", useragent="Mozilla/5.0"), {"type": "opened"}),
    (
        sendgrid_event("click", url="https://example.com/order/1"),
        {"type": "clicked", "url": "https://example.com/order/1"},
    ),
    (sendgrid_event("unsubscribe"), {"type": "unsubscribed"}),
    (sendgrid_event("group_unsubscribe", asm_group_id=10), {"type": "unsubscribed"}),
]


@pytest.fixture
def sendgrid_signer() -> SendGridWebhookSigner:
    return SendGridWebhookSigner()


def test_every_sendgrid_event_type_is_read(sendgrid_signer: SendGridWebhookSigner) -> None:
    headers, body = sendgrid_signer.delivery([event for event, _ in SENDGRID_EVENTS], STAMP)
    events = sendgrid.verify_and_parse(headers, body, SendGridWebhookConfig(sendgrid_signer.public_key), NOW)
    expected = [item for _, item in SENDGRID_EVENTS if item is not None]
    assert [{key: getattr(event, key) for key in ("type", "bounce_kind", "diagnostic", "url")} for event in events] == [
        {"bounce_kind": None, "diagnostic": None, "url": None, **item} for item in expected
    ]
    for event, (raw, _) in zip(events, [pair for pair in SENDGRID_EVENTS if pair[1] is not None], strict=True):
        assert event.provider == "sendgrid" and event.event_id == raw["sg_event_id"]
        assert (event.recipient, event.reference, event.provider_message_id) == (
            "ann@example.net",
            "dlv_42",
            "14c5d75ce93",
        )
        assert event.timestamp == NOW and event.provider_type == raw["event"]


def test_sendgrid_accepts_the_key_as_pem_too(sendgrid_signer: SendGridWebhookSigner) -> None:
    pem = "-----BEGIN PUBLIC KEY-----\n" + sendgrid_signer.public_key + "\n-----END PUBLIC KEY-----\n"
    headers, body = sendgrid_signer.delivery([sendgrid_event("open")], STAMP)
    assert len(sendgrid.verify_and_parse(headers, body, SendGridWebhookConfig(pem), NOW)) == 1


def test_sendgrid_bad_signature_tampered_body_and_stale_timestamp_are_refused(
    sendgrid_signer: SendGridWebhookSigner,
) -> None:
    config = SendGridWebhookConfig(sendgrid_signer.public_key)
    headers, body = sendgrid_signer.delivery([sendgrid_event("delivered")], STAMP)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        sendgrid.verify_and_parse(headers, body.replace(b"ann@", b"eve@"), config, NOW)
    other_headers, _ = SendGridWebhookSigner().delivery([sendgrid_event("delivered")], STAMP)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        sendgrid.verify_and_parse(other_headers, body, config, NOW)
    moved = {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": str(STAMP + 1)}
    with pytest.raises(WebhookSignatureError, match="does not match"):
        sendgrid.verify_and_parse(moved, body, config, NOW)
    stale_headers, stale_body = sendgrid_signer.delivery([sendgrid_event("delivered")], STAMP - 301)
    with pytest.raises(WebhookSignatureError, match="stale"):
        sendgrid.verify_and_parse(stale_headers, stale_body, config, NOW)
    with pytest.raises(WebhookSignatureError, match="required"):
        sendgrid.verify_and_parse({}, body, config, NOW)


def test_sendgrid_signed_but_malformed_bodies_are_refused(sendgrid_signer: SendGridWebhookSigner) -> None:
    config = SendGridWebhookConfig(sendgrid_signer.public_key)
    for body in (b"{not json", b'{"event": "open"}', b'[{"event": "open", "email": "a@example.net"}]'):
        with pytest.raises(WebhookSignatureError):
            sendgrid.verify_and_parse(sendgrid_signer.sign(body, STAMP), body, config, NOW)


def test_an_unreadable_sendgrid_key_is_a_configuration_error(sendgrid_signer: SendGridWebhookSigner) -> None:
    headers, body = sendgrid_signer.delivery([sendgrid_event("open")], STAMP)
    with pytest.raises(ValueError, match="public key"):
        sendgrid.verify_and_parse(headers, body, SendGridWebhookConfig("bm90IGEga2V5"), NOW)


# Mailgun -----------------------------------------------------------------------------------------

MAILGUN_KEY = "mailgun-signing-key"


def mailgun_event(event: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"mg-{event}",
        "timestamp": STAMP + 0.25,
        "event": event,
        "recipient": "ann@example.net",
        "message": {"headers": {"message-id": "20261201.abc@mg.example.com"}},
        "user-variables": {"postroom-reference": "dlv_42"},
        **fields,
    }


MAILGUN_EVENTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        mailgun_event("delivered", **{"delivery-status": {"code": 250, "message": "OK"}}),
        {"type": "delivered", "diagnostic": "250 OK"},
    ),
    (
        mailgun_event(
            "failed",
            severity="permanent",
            reason="bounce",
            **{"delivery-status": {"code": 550, "message": "No such user"}},
        ),
        {"type": "bounced", "bounce_kind": "hard", "diagnostic": "550 No such user"},
    ),
    (
        mailgun_event(
            "failed",
            severity="temporary",
            reason="generic",
            **{"delivery-status": {"code": 452, "message": "Mailbox full"}},
        ),
        {"type": "deferred", "bounce_kind": "soft", "diagnostic": "452 Mailbox full"},
    ),
    (mailgun_event("complained"), {"type": "complained"}),
    (mailgun_event("opened"), {"type": "opened"}),
    (
        mailgun_event("clicked", url="https://example.com/order/1"),
        {"type": "clicked", "url": "https://example.com/order/1"},
    ),
    (mailgun_event("unsubscribed"), {"type": "unsubscribed"}),
]


@pytest.mark.parametrize(("data", "expected"), MAILGUN_EVENTS, ids=[item["type"] for _, item in MAILGUN_EVENTS])
def test_every_mailgun_event_type_is_read(data: dict[str, Any], expected: dict[str, Any]) -> None:
    headers, body = mailgun_delivery(MAILGUN_KEY, data, STAMP, token="t" * 50)
    [event] = mailgun.verify_and_parse(headers, body, MailgunWebhookConfig(MAILGUN_KEY), NOW)
    assert {key: getattr(event, key) for key in ("type", "bounce_kind", "diagnostic", "url")} == {
        "bounce_kind": None,
        "diagnostic": None,
        "url": None,
        **expected,
    }
    assert (event.provider, event.event_id, event.recipient) == ("mailgun", "t" * 50, "ann@example.net")
    assert (event.provider_message_id, event.reference) == ("20261201.abc@mg.example.com", "dlv_42")
    assert event.timestamp == datetime.fromtimestamp(STAMP + 0.25, UTC)


def test_a_replayed_mailgun_delivery_returns_the_same_token_as_event_id() -> None:
    headers, body = mailgun_delivery(MAILGUN_KEY, mailgun_event("opened"), STAMP)
    token = json.loads(body)["signature"]["token"]
    first = mailgun.verify_and_parse(headers, body, MailgunWebhookConfig(MAILGUN_KEY), NOW)
    again = mailgun.verify_and_parse(headers, body, MailgunWebhookConfig(MAILGUN_KEY), NOW)
    assert [event.event_id for event in first] == [event.event_id for event in again] == [token]


def test_mailgun_bad_signature_tampered_token_and_stale_timestamp_are_refused() -> None:
    config = MailgunWebhookConfig(MAILGUN_KEY)
    _, body = mailgun_delivery("another-key", mailgun_event("opened"), STAMP)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        mailgun.verify_and_parse({}, body, config, NOW)
    _, body = mailgun_delivery(MAILGUN_KEY, mailgun_event("opened"), STAMP)
    tampered = json.loads(body)
    tampered["signature"]["token"] = "f" * 50
    with pytest.raises(WebhookSignatureError, match="does not match"):
        mailgun.verify_and_parse({}, json.dumps(tampered).encode(), config, NOW)
    _, stale = mailgun_delivery(MAILGUN_KEY, mailgun_event("opened"), STAMP - 600)
    with pytest.raises(WebhookSignatureError, match="stale"):
        mailgun.verify_and_parse({}, stale, config, NOW)
    for bad in (b"[]", b"{}", b'{"signature": {"timestamp": "1"}}', b"\xff"):
        with pytest.raises(WebhookSignatureError):
            mailgun.verify_and_parse({}, bad, config, NOW)


def test_mailgun_events_no_delivery_needs_are_skipped() -> None:
    _, body = mailgun_delivery(MAILGUN_KEY, mailgun_event("accepted"), STAMP)
    assert mailgun.verify_and_parse({}, body, MailgunWebhookConfig(MAILGUN_KEY), NOW) == []


# MailerSend --------------------------------------------------------------------------------------

MAILERSEND_SECRET = "mailersend-signing-secret"


def mailersend_payload(kind: str, morph: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "domain_id": "7z3m5jgrogdpyo6n",
        "created_at": "2026-12-01T10:00:05.000000Z",
        "webhook_id": "k68zxl2en3k4j905",
        "url": "https://postroom.example.com/api/v1/webhooks/mailersend",
        "data": {
            "object": "activity",
            "id": f"act-{kind}",
            "type": kind.removeprefix("activity."),
            "created_at": "2026-12-01T10:00:04.000000Z",
            "email": {
                "object": "email",
                "id": "62a3ec4c4a8e5bd65c0a1ec8",
                "from": "shop@example.com",
                "subject": "Your order",
                "status": kind.removeprefix("activity."),
                "tags": ["orders"],
                "headers": {"X-Postroom-Reference": "dlv_42"},
                "message": {"object": "message", "id": "62a3ec4c81e5d9c1b2052902"},
                "recipient": {"object": "recipient", "email": "ann@example.net"},
            },
            "morph": morph,
        },
    }


MAILERSEND_EVENTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (mailersend_payload("activity.sent"), {"type": "sent"}),
    (mailersend_payload("activity.delivered"), {"type": "delivered"}),
    (
        mailersend_payload("activity.soft_bounced", {"object": "recipient_bounce", "reason": "Mailbox full"}),
        {"type": "bounced", "bounce_kind": "soft", "diagnostic": "Mailbox full"},
    ),
    (
        mailersend_payload("activity.hard_bounced", {"object": "recipient_bounce", "reason": "550 unknown user"}),
        {"type": "bounced", "bounce_kind": "hard", "diagnostic": "550 unknown user"},
    ),
    (mailersend_payload("activity.opened", {"object": "open", "ip": "192.0.2.1"}), {"type": "opened"}),
    (
        mailersend_payload("activity.clicked", {"object": "click", "url": "https://example.com/order/1"}),
        {"type": "clicked", "url": "https://example.com/order/1"},
    ),
    (mailersend_payload("activity.unsubscribed", {"object": "recipient_unsubscribe"}), {"type": "unsubscribed"}),
    (mailersend_payload("activity.spam_complaint", {"object": "spam_complaint"}), {"type": "complained"}),
]


@pytest.mark.parametrize(("payload", "expected"), MAILERSEND_EVENTS, ids=[p["type"] for p, _ in MAILERSEND_EVENTS])
def test_every_mailersend_event_type_is_read(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    headers, body = mailersend_delivery(MAILERSEND_SECRET, payload)
    [event] = mailersend.verify_and_parse(headers, body, MailerSendWebhookConfig(MAILERSEND_SECRET), NOW)
    assert {key: getattr(event, key) for key in ("type", "bounce_kind", "diagnostic", "url")} == {
        "bounce_kind": None,
        "diagnostic": None,
        "url": None,
        **expected,
    }
    assert event == ProviderEvent(
        provider="mailersend",
        event_id=payload["data"]["id"],
        type=event.type,
        recipient="ann@example.net",
        timestamp=datetime(2026, 12, 1, 10, 0, 4, tzinfo=UTC),
        provider_message_id="62a3ec4c81e5d9c1b2052902",
        reference="dlv_42",
        bounce_kind=event.bounce_kind,
        diagnostic=event.diagnostic,
        url=event.url,
        provider_type=payload["type"],
    )


def test_mailersend_signature_is_checked_in_either_header() -> None:
    config = MailerSendWebhookConfig(MAILERSEND_SECRET)
    headers, body = mailersend_delivery(MAILERSEND_SECRET, mailersend_payload("activity.delivered"))
    other = {"X-Mailersend-Signature": headers["Signature"]}
    assert len(mailersend.verify_and_parse(other, body, config)) == 1
    with pytest.raises(WebhookSignatureError, match="does not match"):
        mailersend.verify_and_parse(headers, body.replace(b"ann@", b"eve@"), config)
    wrong_headers, _ = mailersend_delivery("another-secret", mailersend_payload("activity.delivered"))
    with pytest.raises(WebhookSignatureError, match="does not match"):
        mailersend.verify_and_parse(wrong_headers, body, config)
    with pytest.raises(WebhookSignatureError, match="required"):
        mailersend.verify_and_parse({}, body, config)


def test_mailersend_signed_but_malformed_bodies_are_refused_and_pings_skipped() -> None:
    config = MailerSendWebhookConfig(MAILERSEND_SECRET)
    headers, body = mailersend_delivery(MAILERSEND_SECRET, {"type": "webhook.test", "data": {}})
    assert mailersend.verify_and_parse(headers, body, config) == []
    broken = mailersend_payload("activity.delivered")
    del broken["data"]["email"]["recipient"]
    for payload in (broken, {"type": "activity.opened"}):
        headers, body = mailersend_delivery(MAILERSEND_SECRET, payload)
        with pytest.raises(WebhookSignatureError):
            mailersend.verify_and_parse(headers, body, config)
