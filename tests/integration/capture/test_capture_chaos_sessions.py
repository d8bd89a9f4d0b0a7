"""Chaos mode on a running server: chosen commands fail with chosen codes until cleared."""

from __future__ import annotations

import smtplib

import pytest
from tests.integration.capture.capture_support import find, message, send, smtp_port
from tests.integration.capture.conftest import AppFactory

from postroom.app import Postroom

CHAOS_TEXT = b"4.3.0 Chaos: simulated failure"


async def test_mail_fails_with_451_until_cleared(app: Postroom) -> None:
    app.chaos.set({"mail": {"code": 451, "probability": 1.0}})
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await send(smtp_port(app), message("during chaos"))
    assert (refused.value.smtp_code, refused.value.smtp_error) == (451, CHAOS_TEXT)
    app.chaos.clear()
    code, _ = await send(smtp_port(app), message("after chaos"))
    assert code == 250
    assert [item["subject"] for item in await find(app, "")] == ["after chaos"]


async def test_triggers_from_settings_for_rcpt_and_data(start_app: AppFactory) -> None:
    app = await start_app(smtp_chaos="rcpt=550:1")
    assert app.chaos.get() == {"rcpt": {"code": 550, "probability": 1.0}}
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(smtp_port(app), message("rcpt chaos"))
    assert list(refused.value.recipients.values()) == [(550, b"5.3.0 Chaos: simulated failure")]

    app.chaos.set({"data": {"code": 452, "probability": 1.0}})
    code, reply = await send(smtp_port(app), message("data chaos"))
    assert (code, reply) == (452, CHAOS_TEXT)
    assert await find(app, "") == []


async def test_auth_chaos(start_app: AppFactory) -> None:
    app = await start_app(smtp_auth="any", smtp_chaos="auth=454")
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        await send(smtp_port(app), message("auth chaos"), login=("u", "p"))
    assert refused.value.smtp_code == 454
    app.chaos.clear()
    code, _ = await send(smtp_port(app), message("auth ok"), login=("u", "p"))
    assert code == 250
