"""A real SMTP server (aiosmtpd, in the test's event loop) whose answers depend on the recipient.

The recipient's local part picks the behaviour:
``defer*`` answers 451 at RCPT, ``bounce*`` 550 5.1.1, ``policy*`` 554 5.7.1 at DATA,
``flaky*`` 421 at DATA for the first ``flaky_failures`` messages then accepts,
``hang*`` never answers DATA (the client must time out), ``drop*`` closes the connection.
Everything else is accepted and kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class ScriptedHandler:
    flaky_failures: int = 1
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    flaky_seen: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local = address.partition("@")[0].lower()
        if local.startswith("defer"):
            return "451 4.3.0 try again later"
        if local.startswith("bounce"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        local = envelope.rcpt_tos[0].partition("@")[0].lower() if envelope.rcpt_tos else ""
        if local.startswith("policy"):
            return "554 5.7.1 message refused by policy"
        if local.startswith("flaky") and self.flaky_seen < self.flaky_failures:
            self.flaky_seen += 1
            return "421 4.4.2 connection timed out, come back later"
        if local.startswith("hang"):
            await asyncio.sleep(3600)
        if local.startswith("drop"):
            assert server.transport is not None
            server.transport.close()
            return "421 closing"
        self.received.append(
            Received(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b"")
        )
        return "250 2.0.0 Ok: queued"


class ScriptedSink:
    def __init__(self, flaky_failures: int = 1) -> None:
        self.handler = ScriptedHandler(flaky_failures=flaky_failures)
        self._server: asyncio.Server | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def _protocol(self) -> SMTP:
        self.handler.connections += 1
        return SMTP(self.handler, hostname="sink.test", enable_SMTPUTF8=True)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
