"""The HTTP provider transports against local servers that speak each provider's documented API."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from tests.fakes import FakeMailerSend, FakeMailgun, FakeSendGrid, FakeSes
from tests.services import free_port

from postroom.config import Settings
from postroom.send.providers import (
    MailerSendTransport,
    MailgunTransport,
    SendGridTransport,
    SesTransport,
    build_provider,
)
from postroom.send.providers.mailgun import EU_BASE_URL
from postroom.send.transport import (
    Attachment,
    DeliveryBounced,
    DeliveryDeferred,
    DeliveryResult,
    OutboundMessage,
    Transport,
)

REGION = "eu-west-1"
ACCESS_KEY = "AKIAPOSTROOMTEST"
SECRET_KEY = "postroom/test+secret/key/0123456789abcdef"
API_KEY = "SG.test-key"
MAILGUN_DOMAIN = "mg.example.com"
LOGO = Attachment("logo.png", "image/png", b"\x89PNG\r\n\x1a\nlogo", content_id="<logo@example.com>")
INVOICE = Attachment("invoice.pdf", "application/pdf", b"%PDF-1.4 invoice")


def outbound(**overrides: object) -> OutboundMessage:
    mail = EmailMessage()
    mail["From"] = "Shop <shop@example.com>"
    mail["To"] = "ann@example.net, bob@example.net"
    mail["Subject"] = "Your order"
    mail["Message-ID"] = "<order-1@example.com>"
    mail.set_content("Thanks for your order.\n")
    mail.add_alternative("<p>Thanks for your order.</p>", subtype="html")
    fields: dict[str, object] = {
        "reference": "dlv_42",
        "message_id": "<order-1@example.com>",
        "envelope_from": "bounces+dlv_42@example.com",
        "recipient": "ann@example.net",
        "from_header": "Shop <shop@example.com>",
        "to": ("ann@example.net", "bob@example.net"),
        "subject": "Your order",
        "raw": mail.as_bytes(),
        "text": "Thanks for your order.\n",
        "html": "<p>Thanks for your order.</p>",
        "reply_to": ("Support <support@example.com>",),
        "headers": {"X-Campaign": "spring", "List-Unsubscribe": "<https://example.com/u/1>", "To": "ignored"},
        "attachments": (LOGO, INVOICE),
        "tags": ("orders", "receipts"),
        "metadata": {"order": "1001"},
    }
    fields.update(overrides)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def ses() -> AsyncIterator[FakeSes]:
    server = FakeSes(access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY, region=REGION)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sendgrid() -> AsyncIterator[FakeSendGrid]:
    server = FakeSendGrid(api_key=API_KEY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def mailgun() -> AsyncIterator[FakeMailgun]:
    server = FakeMailgun(api_key="key-mailgun", domain=MAILGUN_DOMAIN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def mailersend() -> AsyncIterator[FakeMailerSend]:
    server = FakeMailerSend(api_key="mlsn.test")
    await server.start()
    yield server
    await server.stop()


async def send(transport: Transport, message: OutboundMessage | None = None) -> DeliveryResult:
    try:
        return await transport.send(message or outbound())
    finally:
        await transport.close()


def ses_transport(server: FakeSes, **options: str) -> Transport:
    base = {
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "endpoint_url": server.base_url,
    }
    return build_provider("ses", {**base, **options})


# SES ---------------------------------------------------------------------------------------------


async def test_ses_sends_the_raw_message_to_the_one_recipient_signed_with_sigv4(ses: FakeSes) -> None:
    message = outbound()
    result = await send(ses_transport(ses, configuration_set="postroom-events"), message)
    assert result.provider_message_id == ses.issued_ids[0] and not result.delivered
    assert result.response.startswith("200 ")
    [request] = ses.received
    assert request.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    body = request.json()
    assert body["Destination"] == {"ToAddresses": ["ann@example.net"]}
    assert base64.b64decode(body["Content"]["Raw"]["Data"]) == message.raw
    assert body["EmailTags"] == [{"Name": "postroom-reference", "Value": "dlv_42"}]
    assert body["ConfigurationSetName"] == "postroom-events"


async def test_ses_sends_a_session_token_with_temporary_credentials() -> None:
    server = FakeSes(access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY, region=REGION, session_token="tok+en/1")
    await server.start()
    try:
        result = await send(ses_transport(server, session_token="tok+en/1"))
        assert result.provider_message_id == server.issued_ids[0]
        with pytest.raises(DeliveryDeferred, match="security token"):
            await send(ses_transport(server))
    finally:
        await server.stop()


async def test_ses_wrong_secret_is_deferred_as_a_credentials_problem(ses: FakeSes) -> None:
    with pytest.raises(DeliveryDeferred) as caught:
        await send(ses_transport(ses, secret_access_key="not-the-secret"))
    assert caught.value.code == 403
    assert "credentials" in caught.value.response
    assert "signature we calculated does not match" in caught.value.response


async def test_ses_leaves_out_a_reference_that_is_not_a_valid_tag_value(ses: FakeSes) -> None:
    await send(ses_transport(ses), outbound(reference="ref with spaces/slash"))
    assert "EmailTags" not in ses.received[0].json()


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (400, "MessageRejected", DeliveryBounced),
        (400, "BadRequestException", DeliveryBounced),
        (400, "SendingPausedException", DeliveryDeferred),
        (400, "MailFromDomainNotVerifiedException", DeliveryDeferred),
        (404, "NotFoundException", DeliveryDeferred),
        (429, "TooManyRequestsException", DeliveryDeferred),
        (500, "InternalFailure", DeliveryDeferred),
    ],
)
async def test_ses_errors_map_to_bounce_or_retry(
    ses: FakeSes, status: int, error: str, outcome: type[Exception]
) -> None:
    ses.answer_next(status, {"message": f"{error} happened"}, {"x-amzn-ErrorType": f"{error}:http://internal/"})
    with pytest.raises(DeliveryDeferred if outcome is DeliveryDeferred else DeliveryBounced) as caught:
        await send(ses_transport(ses))
    assert caught.value.code == status
    assert error in caught.value.response and f"{error} happened" in caught.value.response


# SendGrid ----------------------------------------------------------------------------------------


async def test_sendgrid_posts_the_documented_json_and_returns_the_x_message_id(sendgrid: FakeSendGrid) -> None:
    transport = build_provider("sendgrid", {"api_key": API_KEY, "base_url": sendgrid.base_url})
    assert isinstance(transport, SendGridTransport)
    result = await send(transport)
    assert result == DeliveryResult("202 Accepted", provider_message_id=sendgrid.issued_ids[0])
    [request] = sendgrid.received
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["personalizations"] == [{"to": [{"email": "ann@example.net"}]}]
    assert body["from"] == {"email": "shop@example.com", "name": "Shop"}
    assert body["reply_to"] == {"email": "support@example.com", "name": "Support"}
    assert body["subject"] == "Your order"
    assert body["content"] == [
        {"type": "text/plain", "value": "Thanks for your order.\n"},
        {"type": "text/html", "value": "<p>Thanks for your order.</p>"},
    ]
    assert body["attachments"] == [
        {
            "content": base64.b64encode(LOGO.content).decode(),
            "type": "image/png",
            "filename": "logo.png",
            "disposition": "inline",
            "content_id": "logo@example.com",
        },
        {
            "content": base64.b64encode(INVOICE.content).decode(),
            "type": "application/pdf",
            "filename": "invoice.pdf",
            "disposition": "attachment",
        },
    ]
    assert body["headers"] == {
        "X-Campaign": "spring",
        "List-Unsubscribe": "<https://example.com/u/1>",
        "Message-ID": "<order-1@example.com>",
    }
    assert body["categories"] == ["orders", "receipts"]
    assert body["custom_args"] == {"order": "1001", "postroom_reference": "dlv_42"}


async def test_sendgrid_several_reply_to_addresses_go_in_reply_to_list(sendgrid: FakeSendGrid) -> None:
    message = outbound(reply_to=("a@example.com", "B <b@example.com>"), html=None, attachments=())
    await send(SendGridTransport(api_key=API_KEY, base_url=sendgrid.base_url), message)
    body = sendgrid.received[0].json()
    assert body["reply_to_list"] == [{"email": "a@example.com"}, {"email": "b@example.com", "name": "B"}]
    assert body["content"] == [{"type": "text/plain", "value": "Thanks for your order.\n"}]


async def test_sendgrid_invalid_message_bounces_with_the_provider_text(sendgrid: FakeSendGrid) -> None:
    with pytest.raises(DeliveryBounced) as caught:
        await send(SendGridTransport(api_key=API_KEY, base_url=sendgrid.base_url), outbound(recipient="not-an-address"))
    assert caught.value.code == 400
    assert "Each personalization needs valid to addresses" in caught.value.response


async def test_sendgrid_bad_key_is_deferred_for_an_operator(sendgrid: FakeSendGrid) -> None:
    with pytest.raises(DeliveryDeferred) as caught:
        await send(SendGridTransport(api_key="SG.wrong", base_url=sendgrid.base_url))
    assert caught.value.code == 401
    assert "credentials" in caught.value.response and "authorization grant is invalid" in caught.value.response


@pytest.mark.parametrize(("status", "text"), [(429, "too many requests"), (500, "internal error"), (503, "down")])
async def test_sendgrid_throttling_and_server_errors_are_deferred(
    sendgrid: FakeSendGrid, status: int, text: str
) -> None:
    sendgrid.answer_next(status, {"errors": [{"message": text}]})
    with pytest.raises(DeliveryDeferred) as caught:
        await send(SendGridTransport(api_key=API_KEY, base_url=sendgrid.base_url))
    assert caught.value.code == status and text in caught.value.response


async def test_a_message_without_text_or_html_bounces_before_any_request(sendgrid: FakeSendGrid) -> None:
    with pytest.raises(DeliveryBounced, match="text or HTML"):
        await send(SendGridTransport(api_key=API_KEY, base_url=sendgrid.base_url), outbound(text=None, html=None))
    assert sendgrid.received == []


# Mailgun -----------------------------------------------------------------------------------------


async def test_mailgun_posts_the_raw_mime_with_the_reference_variable(mailgun: FakeMailgun) -> None:
    message = outbound()
    transport = build_provider(
        "mailgun", {"api_key": "key-mailgun", "domain": MAILGUN_DOMAIN, "base_url": mailgun.base_url}
    )
    result = await send(transport, message)
    assert result == DeliveryResult("200 Queued. Thank you.", provider_message_id=mailgun.issued_ids[0])
    [request] = mailgun.received
    assert request.path == f"/v3/{MAILGUN_DOMAIN}/messages.mime"
    assert request.form["to"] == ["ann@example.net"]
    assert request.form["v:postroom-reference"] == ["dlv_42"]
    assert request.form["o:tag"] == ["orders", "receipts"]
    [(_filename, content_type, raw)] = request.form["message"]
    assert raw == message.raw and content_type == "message/rfc822"
    assert BytesParser().parsebytes(raw)["Message-ID"] == "<order-1@example.com>"


async def test_mailgun_region_eu_selects_the_eu_api() -> None:
    transport = build_provider("mailgun", {"api_key": "k", "domain": MAILGUN_DOMAIN, "region": "eu"})
    assert isinstance(transport, MailgunTransport) and transport.base_url == EU_BASE_URL
    await transport.close()


async def test_mailgun_bad_key_unknown_domain_and_bad_request(mailgun: FakeMailgun) -> None:
    with pytest.raises(DeliveryDeferred, match="credentials") as caught:
        await send(MailgunTransport(api_key="wrong", domain=MAILGUN_DOMAIN, base_url=mailgun.base_url))
    assert caught.value.code == 401
    with pytest.raises(DeliveryDeferred, match=r"Domain not found: other\.example\.com"):
        await send(MailgunTransport(api_key="key-mailgun", domain="other.example.com", base_url=mailgun.base_url))
    mailgun.answer_next(400, {"message": "'to' parameter is not a valid address. please check documentation"})
    with pytest.raises(DeliveryBounced, match="not a valid address"):
        await send(MailgunTransport(api_key="key-mailgun", domain=MAILGUN_DOMAIN, base_url=mailgun.base_url))
    mailgun.answer_next(429, {"message": "rate limited"})
    with pytest.raises(DeliveryDeferred, match="rate limited"):
        await send(MailgunTransport(api_key="key-mailgun", domain=MAILGUN_DOMAIN, base_url=mailgun.base_url))
    mailgun.answer_next(502, b"Bad Gateway")
    with pytest.raises(DeliveryDeferred, match="Bad Gateway"):
        await send(MailgunTransport(api_key="key-mailgun", domain=MAILGUN_DOMAIN, base_url=mailgun.base_url))


# MailerSend --------------------------------------------------------------------------------------


async def test_mailersend_posts_the_documented_json(mailersend: FakeMailerSend) -> None:
    transport = build_provider("mailersend", {"api_key": "mlsn.test", "base_url": mailersend.base_url})
    assert isinstance(transport, MailerSendTransport)
    result = await send(transport)
    assert result == DeliveryResult("202 Accepted", provider_message_id=mailersend.issued_ids[0])
    [request] = mailersend.received
    assert request.headers["authorization"] == "Bearer mlsn.test"
    body = request.json()
    assert body["from"] == {"email": "shop@example.com", "name": "Shop"}
    assert body["to"] == [{"email": "ann@example.net"}]
    assert body["reply_to"] == {"email": "support@example.com", "name": "Support"}
    assert (body["subject"], body["text"], body["html"]) == (
        "Your order",
        "Thanks for your order.\n",
        "<p>Thanks for your order.</p>",
    )
    assert body["tags"] == ["orders", "receipts"]
    assert body["attachments"] == [
        {
            "content": base64.b64encode(LOGO.content).decode(),
            "filename": "logo.png",
            "disposition": "inline",
            "id": "logo@example.com",
        },
        {"content": base64.b64encode(INVOICE.content).decode(), "filename": "invoice.pdf", "disposition": "attachment"},
    ]
    assert "headers" not in body  # custom headers are a paid-plan feature, sent only when enabled


async def test_mailersend_sends_custom_headers_with_the_reference_when_enabled(mailersend: FakeMailerSend) -> None:
    options = {"api_key": "mlsn.test", "base_url": mailersend.base_url, "send_headers": "true"}
    await send(build_provider("mailersend", options))
    assert mailersend.received[0].json()["headers"] == [
        {"name": "X-Campaign", "value": "spring"},
        {"name": "List-Unsubscribe", "value": "<https://example.com/u/1>"},
        {"name": "X-Postroom-Reference", "value": "dlv_42"},
    ]


async def test_mailersend_validation_error_bounces_and_auth_or_throttle_defers(mailersend: FakeMailerSend) -> None:
    def transport(key: str = "mlsn.test") -> Transport:
        return MailerSendTransport(api_key=key, base_url=mailersend.base_url)

    with pytest.raises(DeliveryBounced, match=r"from\.email") as bounced:
        await send(transport(), outbound(from_header="nobody"))
    assert bounced.value.code == 422
    with pytest.raises(DeliveryDeferred, match="Unauthenticated") as refused:
        await send(transport("mlsn.wrong"))
    assert refused.value.code == 401 and "credentials" in refused.value.response
    mailersend.answer_next(429, {"message": "Too Many Attempts."})
    with pytest.raises(DeliveryDeferred, match="Too Many Attempts"):
        await send(transport())
    mailersend.answer_next(500, {"message": "Server Error"})
    with pytest.raises(DeliveryDeferred, match="Server Error"):
        await send(transport())


# Network failures, the factory and Settings ------------------------------------------------------


async def test_an_unreachable_provider_is_deferred() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(DeliveryDeferred, match="could not be reached"):
        await send(SendGridTransport(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}"))


async def test_a_provider_that_does_not_answer_in_time_is_deferred(mailersend: FakeMailerSend) -> None:
    mailersend.answer_next(202, delay=2.0)
    options = {"api_key": "mlsn.test", "base_url": mailersend.base_url, "timeout": "0.2"}
    transport = build_provider("mailersend", options)
    with pytest.raises(DeliveryDeferred, match="did not answer in time"):
        await send(transport)


def test_build_provider_names_the_missing_option_and_refuses_unknown_providers() -> None:
    with pytest.raises(ValueError, match="'secret_access_key'"):
        build_provider("ses", {"region": REGION, "access_key_id": ACCESS_KEY})
    with pytest.raises(ValueError, match="'domain'"):
        build_provider("mailgun", {"api_key": "k"})
    with pytest.raises(ValueError, match="'api_key'"):
        build_provider("sendgrid", {"base_url": "http://127.0.0.1:1"})
    with pytest.raises(ValueError, match="'timeout'"):
        build_provider("mailersend", {"api_key": "k", "timeout": "soon"})
    with pytest.raises(ValueError, match="unknown email provider 'postmark'"):
        build_provider("postmark", {})


async def test_settings_from_the_environment_build_a_working_ses_transport(
    ses: FakeSes, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "EMAIL_PROVIDER": "ses",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "SES_ENDPOINT_URL": ses.base_url,
        "SES_CONFIGURATION_SET": "events",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    transport = build_provider(settings.email_provider, settings.provider_options(settings.email_provider))
    assert isinstance(transport, SesTransport)
    result = await send(transport)
    assert result.provider_message_id == ses.issued_ids[0]
    assert ses.received[0].json()["ConfigurationSetName"] == "events"


def test_settings_gather_each_providers_options_and_leave_out_unset_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SENDGRID_API_KEY": "SG.env",
        "MAILGUN_API_KEY": "key-env",
        "MAILGUN_DOMAIN": MAILGUN_DOMAIN,
        "MAILGUN_BASE_URL": EU_BASE_URL,
        "MAILERSEND_API_KEY": "mlsn.env",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("EMAIL_PROVIDER", "POSTROOM_EMAIL_PROVIDER", "SES_REGION", "AWS_REGION", "SENDGRID_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.email_provider == "capture"
    assert settings.provider_options("sendgrid") == {"api_key": "SG.env"}
    mailgun = {"api_key": "key-env", "domain": MAILGUN_DOMAIN, "base_url": EU_BASE_URL}
    assert settings.provider_options("mailgun") == mailgun
    assert settings.provider_options("mailersend") == {"api_key": "mlsn.env"}
    assert settings.provider_options("smtp") == {}
    with pytest.raises(ValueError, match="'region'"):
        build_provider("ses", settings.provider_options("ses"))
