"""Bounces that come back by mail: a real DSN from Debian's Postfix, and a plain-text qmail bounce.

Postroom's smtp transport hands mail to Postfix; Postfix relays it to Postroom's own
SMTP capture port, except for ``bounced.test``, which its error transport refuses with
5.1.1. Postfix then mails a real RFC 3464 DSN to the VERP return path, which arrives in
the capture inbox too, and the bounce collector turns it into a hard bounce.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.conftest import LiveFactory
from tests.integration.send.test_send_api import wait_for_status
from tests.services import PostfixServer, free_port

from postroom.auth.roles import Role


@pytest.fixture
async def capture_port() -> int:
    return free_port()


@pytest.fixture
async def postfix(tmp_path: Path, capture_port: int) -> AsyncIterator[PostfixServer]:
    server = PostfixServer(tmp_path / "postfix", capture_port, {"bounced.test": "5.1.1 mailbox does not exist"})
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_postfix_relays_and_its_dsn_becomes_a_hard_bounce(
    live_factory: LiveFactory, postfix: PostfixServer, capture_port: int
) -> None:
    live = await live_factory(
        smtp=True,
        smtp_port=capture_port,
        email_provider="smtp",
        smtp_relay_host="127.0.0.1",
        smtp_relay_port=postfix.port,
        smtp_relay_tls="none",
    )
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        answer = await client.post(
            "/api/v1/emails",
            json={
                "from": "Shop <shop@example.test>",
                "to": ["ann@example.test", "nobody@bounced.test"],
                "subject": "Via Postfix",
                "text": "hello",
            },
        )
        assert answer.status_code == 202, answer.text
        email_id = answer.json()["id"]
        try:
            body = await wait_for_status(client, email_id, {"delivered", "bounced"}, seconds=30)
            deadline = asyncio.get_running_loop().time() + 30
            while body["recipients"][1]["status"] != "bounced" and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.2)
                body = (await client.get(f"/api/v1/emails/{email_id}")).json()
        except AssertionError:
            raise AssertionError(postfix.log()[-3000:]) from None
        ann, nobody = body["recipients"]
        assert ann["status"] == "delivered" and ann["last_response"].startswith("250")
        assert nobody["status"] == "bounced", postfix.log()[-3000:]
        bounce = nobody["events"][-1]
        assert bounce["type"] == "bounced" and bounce["source"] == "dsn" and bounce["bounce_type"] == "hard"
        assert "5.1.1" in bounce["response"]
        assert (await client.get("/api/v1/suppressions/nobody@bounced.test")).json()["reason"] == "hard_bounce"

        relayed = (await client.get("/api/v1/messages", params={"query": 'subject:"Via Postfix" to:ann'})).json()
        assert relayed["total"] == 1
        dsn = (await client.get("/api/v1/messages", params={"query": "tag:bounce"})).json()
        assert dsn["total"] == 1
        assert dsn["items"][0]["to"][0]["address"] == f"bounces+{nobody['id']}@example.test"


def qmail_bounce(return_path: str, recipient: str) -> bytes:
    """A plain-text bounce in qmail's format (no RFC 3464 report), as many MTAs still send."""
    return (
        f"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.test\r\nTo: {return_path}\r\n"
        "Subject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at mx.example.test.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        f"<{recipient}>:\r\n"
        "Sorry, no mailbox here by that name. (#5.1.1)\r\n"
    ).encode()


async def send_and_bounce(client: httpx.AsyncClient, capture_port: int, address: str) -> dict[str, Any]:
    """Send one email to ``address``, then mail a qmail bounce for it to its VERP return path;
    returns the email once it is ``bounced``."""
    sent = (
        await client.post(
            "/api/v1/emails",
            json={"from": "shop@example.test", "to": address, "subject": "Hello", "text": "hi"},
        )
    ).json()
    delivery = (await wait_for_status(client, sent["id"], {"delivered"}))["recipients"][0]
    return_path = f"bounces+{delivery['id']}@example.test"

    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", capture_port) as smtp:
            smtp.sendmail("", [return_path], qmail_bounce(return_path, address))

    await asyncio.to_thread(deliver)
    return await wait_for_status(client, sent["id"], {"bounced"})


async def test_a_plain_text_bounce_to_the_return_path_is_a_bounce(live_factory: LiveFactory, capture_port: int) -> None:
    live = await live_factory(smtp=True, smtp_port=capture_port)
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        body = await send_and_bounce(client, capture_port, "gone@example.test")
        bounce = body["recipients"][0]["events"][-1]
        assert bounce["source"] == "dsn" and bounce["bounce_type"] == "hard"
        assert (await client.get("/api/v1/suppressions/gone@example.test")).json()["reason"] == "hard_bounce"


async def test_a_bounce_is_applied_once_however_many_collectors_read_it(
    live_factory: LiveFactory, capture_port: int
) -> None:
    """Every worker process runs a bounce collector; a DSN must still make one bounce, not one each."""
    live = await live_factory(smtp=True, smtp_port=capture_port)
    await live_factory()  # a second process's workers on the same database
    async with live.client(await live.api_key(Role.DEVELOPER)) as client:
        body = await send_and_bounce(client, capture_port, "twice@example.test")
        await asyncio.sleep(3)  # both collectors have read the DSN by now (each polls every second)
        events = (await client.get(f"/api/v1/emails/{body['id']}")).json()["recipients"][0]["events"]
        assert [e["type"] for e in events].count("bounced") == 1, events
