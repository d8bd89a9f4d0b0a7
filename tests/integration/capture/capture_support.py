"""Helpers for the capture tests: smtplib clients (run in threads) and an aiosmtpd sink."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session

from postroom.app import Postroom
from postroom.store.query import parse_query

T = TypeVar("T")


def smtp_port(app: Postroom) -> int:
    assert app.capture is not None, "the app was started without SMTP"
    return app.capture.port


def unverified_tls() -> ssl.SSLContext:
    """A client context for the self-signed development certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def message(subject: str, *, to: str = "dev@example.com", body: str = "hello\n", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "app@example.com"
    mail["To"] = to
    mail["Subject"] = subject
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))


def connect(port: int, *, tls: str = "none") -> smtplib.SMTP:
    if tls == "implicit":
        return smtplib.SMTP_SSL("127.0.0.1", port, context=unverified_tls(), timeout=10)
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    if tls == "starttls":
        client.starttls(context=unverified_tls())
    return client


def send_sync(
    port: int,
    raw: bytes,
    *,
    sender: str = "app@example.com",
    to: Sequence[str] = ("dev@example.com",),
    tls: str = "none",
    login: tuple[str, str] | None = None,
    mail_options: Sequence[str] = (),
) -> tuple[int, bytes]:
    """Send one message in its own session; returns the reply to the end of DATA."""
    with connect(port, tls=tls) as client:
        client.ehlo()
        if login is not None:
            client.login(*login)
        code, reply = client.mail(sender, list(mail_options))
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        for address in to:
            code, reply = client.rcpt(address)
            if code != 250:
                raise smtplib.SMTPRecipientsRefused({address: (code, reply)})
        return client.data(raw)


async def send(port: int, raw: bytes, **options: Any) -> tuple[int, bytes]:
    return await asyncio.to_thread(send_sync, port, raw, **options)


async def in_threads(*calls: Callable[[], T]) -> list[T]:
    """Run blocking clients at once in their own threads.

    Not asyncio.to_thread: many blocking clients would fill the loop's default executor,
    which the server itself needs (ingest writes blobs through it).
    """
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, call) for call in calls)))


async def find(app: Postroom, query: str, tenant_id: int | None = None) -> list[dict[str, Any]]:
    page = await app.messages.list(tenant_id or app.default_tenant_id, parse_query(query), limit=500)
    return page.items


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SinkHandler:
    """Scripted answers: ``data_replies`` are used (one per DATA) before accepting."""

    received: list[Received] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    rcpt_reply: str | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        data = envelope.original_content or b""
        self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), data))
        self.arrived.set()
        return "250 2.0.0 Ok: sunk"


class Sink:
    """A real SMTP server on loopback (aiosmtpd in this event loop) that keeps what it gets."""

    def __init__(self) -> None:
        self.handler = SinkHandler()
        self._server: asyncio.Server | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, hostname="sink.test", enable_SMTPUTF8=True, loop=loop), "127.0.0.1", 0
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
