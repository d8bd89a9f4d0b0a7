"""Delivery through an SMTP server with aiosmtplib, over a pool of reused connections.

A connection stays open between messages (a new transaction starts with MAIL FROM),
so a burst costs one TLS handshake and login per pooled connection, not per message.
4xx answers, timeouts and lost connections defer; 5xx answers bounce.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from postroom.send.transport import DeliveryBounced, DeliveryDeferred, DeliveryResult, OutboundMessage


@dataclass(frozen=True)
class SmtpOptions:
    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    tls: Literal["none", "starttls", "implicit"] = "starttls"
    verify_tls: bool = True
    pool_size: int = 16
    timeout: float = 30.0
    local_hostname: str | None = None


def _raise_for(code: int, message: str) -> None:
    text = f"{code} {message}".strip()
    if 400 <= code < 500:
        raise DeliveryDeferred(text, code)
    raise DeliveryBounced(text, code)


class SmtpTransport:
    name = "smtp"

    def __init__(self, options: SmtpOptions) -> None:
        if not options.host:
            raise ValueError("the smtp transport needs SMTP_RELAY_HOST")
        self.options = options
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(options.pool_size)
        self._closed = False

    def _client(self) -> aiosmtplib.SMTP:
        o = self.options
        context: ssl.SSLContext | None = None
        if o.tls != "none" and not o.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return aiosmtplib.SMTP(
            hostname=o.host,
            port=o.port,
            username=o.username or None,
            password=o.password or None,
            use_tls=o.tls == "implicit",
            # starttls: upgrade when the server offers it; none: never.
            start_tls=None if o.tls == "starttls" else False,
            validate_certs=o.verify_tls,
            tls_context=context,
            timeout=o.timeout,
            local_hostname=o.local_hostname,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        client = self._client()
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryDeferred(f"SMTP relay refused the login: {exc.code} {exc.message}", exc.code) from exc
        except aiosmtplib.SMTPResponseException as exc:
            _raise_for(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryDeferred(f"cannot connect to {self.options.host}:{self.options.port}: {exc}") from exc
        return client

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if self._closed:
            raise DeliveryDeferred("transport is shutting down")
        async with self._slots:
            client = await self._connected()
            healthy = False
            try:
                errors, response = await client.sendmail(message.envelope_from, [message.recipient], message.raw)
                refused = errors.get(message.recipient)
                if refused is not None:
                    healthy = True
                    _raise_for(refused.code, refused.message)
                healthy = True
                return DeliveryResult(response=f"250 {response}".strip(), delivered=True)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                healthy = True
                first = exc.recipients[0] if exc.recipients else None
                _raise_for(first.code if first else 550, first.message if first else "recipient refused")
            except aiosmtplib.SMTPResponseException as exc:
                # MAIL FROM or DATA refused: the connection is still usable after RSET.
                healthy = await self._reset(client)
                _raise_for(exc.code, exc.message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise DeliveryDeferred(f"SMTP conversation with {self.options.host} failed: {exc}") from exc
            finally:
                if healthy and client.is_connected and not self._closed:
                    self._idle.append(client)
                else:
                    client.close()
            raise AssertionError("unreachable")

    @staticmethod
    async def _reset(client: aiosmtplib.SMTP) -> bool:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
            client.close()
