"""The SMTP capture server: aiosmtpd's protocol on an asyncio server in the running loop.

Everything arriving is stored through ``Ingestor.ingest`` and answered ``250`` only
after the commit. DATA is read in chunks (``capture.data``) where only ``<CRLF>.<CRLF>``
ends a message; a bare LF or CR around a dot stays message content, which is what
defeats SMTP smuggling.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import weakref
from collections.abc import Callable
from typing import Any, AnyStr

import structlog
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from postroom.capture import replies
from postroom.capture.chaos import ChaosMonkey
from postroom.capture.data import DataReader, read_data
from postroom.capture.smtp_auth import ApiKeyResolver, SmtpAuthenticator, SmtpLogin, read_login, read_plain
from postroom.capture.tags import plus_tags
from postroom.capture.tls import server_context
from postroom.config import Settings
from postroom.core import metrics
from postroom.core.ingest import Incoming, Ingestor
from postroom.core.waits import wait_set

__all__ = ["LONG_LINE_FLAG", "RFC_LINE_LIMIT", "CaptureHandler", "CaptureServer", "has_long_lines"]

log = structlog.get_logger(__name__)

RFC_LINE_LIMIT = 998  # RFC 5322 2.1.1, octets excluding CRLF
LONG_LINE_FLAG = "long-lines"
# The stream buffer must also hold the longest command line aiosmtpd accepts
# (512 plus the SIZE and SMTPUTF8 extensions' allowance), whatever the line cap is.
COMMAND_LINE_ROOM = 1024
STOP_GRACE_SECONDS = 5.0
NULL_SENDER = "<>"  # MAIL FROM:<> (bounces); aiosmtpd keeps the brackets
UNKNOWN_COMMAND = "UNKNOWN"  # the metric label for replies to lines that name no command


def has_long_lines(raw: bytes, limit: int = RFC_LINE_LIMIT) -> bool:
    """Whether a line of ``raw`` is longer than ``limit`` octets (a CR or an LF ends a line)."""
    # Look at windows of limit+1 octets: a window with no line break is a long line;
    # otherwise a long line can only start after the window's last break. Linear, and
    # about one step per window (a regex restarts at every octet of every line).
    start, end = 0, len(raw)
    while end - start > limit:
        window_end = start + limit + 1
        last_break = max(raw.rfind(b"\n", start, window_end), raw.rfind(b"\r", start, window_end))
        if last_break < 0:
            return True
        start = last_break + 1
    return False


@functools.cache
def _reply_counter(command: str, code: int) -> Any:
    # prometheus_client's labels() lookup cost ~14% of the SMTP loop's time; children are stable.
    return metrics.SMTP_REPLIES.labels(command=command, code=str(code))


class CaptureHandler:
    """aiosmtpd handler hooks: acceptance rules for one server (shared by its sessions)."""

    def __init__(
        self,
        ingestor: Ingestor,
        authenticator: SmtpAuthenticator,
        chaos: ChaosMonkey,
        *,
        default_tenant_id: int,
    ) -> None:
        self.ingestor = ingestor
        self.authenticator = authenticator
        self.chaos = chaos
        self.default_tenant_id = default_tenant_id

    def _chaos(self, command: str) -> str | None:
        code = self.chaos.fire(command)
        return None if code is None else str(replies.chaos(code))

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not self.authenticator.required:  # AUTH stays usable, but is not offered
            responses = [line for line in responses if not line[4:].startswith("AUTH")]
        return responses

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> Any:
        return self._chaos("auth") or MISSING

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._login(await read_plain(server, args))

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._login(await read_login(server, args))

    async def _login(self, credentials: tuple[str, str] | None) -> AuthResult:
        if credentials is None:  # the mechanism has answered already
            return AuthResult(success=False, handled=True)
        login = await self.authenticator.authenticate(*credentials)
        if login is None:
            log.info("smtp_auth_refused", username=credentials[0])
            return AuthResult(success=False, handled=False, message=str(replies.AUTH_INVALID))
        return AuthResult(success=True, auth_data=login, message=str(replies.AUTH_OK))

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.authenticator.required and not session.authenticated:
            return str(replies.AUTH_REQUIRED)
        if failure := self._chaos("mail"):
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return str(replies.MAIL_OK)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if failure := self._chaos("rcpt"):
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return str(replies.RCPT_OK)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if failure := self._chaos("data"):
            return failure
        raw = envelope.original_content or b""
        login = session.auth_data
        incoming = Incoming(
            raw=raw,
            tenant_id=login.tenant_id if isinstance(login, SmtpLogin) else self.default_tenant_id,
            source="smtp",
            envelope_from="" if envelope.mail_from == NULL_SENDER else envelope.mail_from or "",
            envelope_to=tuple(envelope.rcpt_tos),
            tags=plus_tags(envelope.rcpt_tos),
            flags=(LONG_LINE_FLAG,) if has_long_lines(raw) else (),
        )
        try:
            stored = await self.ingestor.ingest(incoming)
        except Exception:
            log.exception("smtp_store_failed", peer=str(session.peer), size=len(raw))
            return str(replies.STORE_UNAVAILABLE)
        return str(replies.queued(stored.id))


class _Session(Session):
    """aiosmtpd's session without the deprecation warning it logs on every successful AUTH."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# <local@domain> in its everyday dot-atom form; anything else goes to aiosmtpd's full parser.
_PLAIN_PATH = re.compile(rf"\s*<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(.*)", re.DOTALL)


class CaptureSMTP(SMTP):
    """aiosmtpd's protocol with our line cap and a metric for every reply.

    Replies are counted by the command being handled: each command method is wrapped so
    the session knows which command a ``push()`` answers (greeting: CONNECT; lines
    rejected before dispatch: UNKNOWN).
    """

    def __init__(self, handler: CaptureHandler, *, max_line_bytes: int, **kwargs: Any) -> None:
        # + CRLF + a transparency dot, as aiosmtpd's own 1001 = 998 + 3.
        line_limit = max_line_bytes + 3
        # aiosmtpd sizes its StreamReader from line_length_limit while constructing.
        self.line_length_limit = max(line_limit, COMMAND_LINE_ROOM)
        # aiosmtpd keeps these in a class attribute that every session's EHLO adds to and
        # every new session clears; give each session its own.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        super().__init__(handler, **kwargs)
        self.line_length_limit = line_limit
        self._command = "CONNECT"
        self._dispatching = False
        self._smtp_methods = {name: self._counted(name, method) for name, method in self._smtp_methods.items()}
        self.on_close: Callable[[CaptureSMTP], None] | None = None

    def _counted(self, name: str, method: Callable[[str | None], Any]) -> Callable[[str | None], Any]:
        async def run(arg: str | None) -> None:
            self._command, self._dispatching = name, True
            try:
                await method(arg)
                self._command = UNKNOWN_COMMAND
            finally:
                # After a failure the label stays, for the error reply aiosmtpd sends next.
                self._dispatching = False

        return run

    async def push(self, status: AnyStr) -> None:
        line = status.encode("utf-8") if isinstance(status, str) else status
        code = replies.reply_code(line)
        if code is not None:
            _reply_counter(self._command, code).inc()
            if not self._dispatching:
                self._command = UNKNOWN_COMMAND
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every MAIL/RCPT path with email's RFC 5322 header parser, which
        # cost as much CPU per message as our whole group commit; plain paths skip it.
        plain = _PLAIN_PATH.match(arg)
        if plain is None:
            result: tuple[str | None, str | None] = super()._getaddr(arg)
            return result
        address = plain.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, plain.group(2).strip()

    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd's own DATA, with its per-line read loop replaced by chunked reads.
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = DataReader(line_limit=self.line_length_limit, size_limit=self.data_size_limit)
        try:
            complete = await read_data(self._reader, data)
        except asyncio.CancelledError:
            self._writer.close()  # the connection was lost during DATA
            raise
        if not complete:
            return
        if data.error is not None:
            self.envelope = self._create_envelope()
            await self.push(data.error.value)
            return
        assert data.content is not None
        self.envelope.original_content = data.content
        self.envelope.content = (
            data.content.decode("utf-8", errors="surrogateescape") if self._decode_data else data.content
        )
        status = await self._call_handler_hook("DATA")
        self.envelope = self._create_envelope()
        await self.push("250 OK" if status is MISSING else status)

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        if self.on_close is not None:
            self.on_close(self)


class CaptureServer:
    """The listening SMTP server; ``start()``/``stop()`` in the running event loop."""

    def __init__(
        self,
        settings: Settings,
        ingestor: Ingestor,
        *,
        default_tenant_id: int,
        chaos: ChaosMonkey,
        resolve_api_key: ApiKeyResolver | None = None,
    ) -> None:
        self.settings = settings
        authenticator = SmtpAuthenticator.from_settings(
            settings, default_tenant_id=default_tenant_id, resolve_api_key=resolve_api_key
        )
        self.handler = CaptureHandler(ingestor, authenticator, chaos, default_tenant_id=default_tenant_id)
        self._tls = server_context(settings) if settings.smtp_tls != "none" else None
        self._server: asyncio.Server | None = None
        # Weak: a session whose TLS handshake fails is never told its connection is lost.
        self._sessions: weakref.WeakSet[CaptureSMTP] = weakref.WeakSet()
        self._idle = asyncio.Event()

    @property
    def port(self) -> int:
        """The bound port (the real one when SMTP_PORT is 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the SMTP server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        implicit = self._tls if self.settings.smtp_tls == "implicit" else None
        self._server = await loop.create_server(
            self._session,
            host=self.settings.smtp_bind,
            port=self.settings.smtp_port,
            ssl=implicit,
        )
        log.info("smtp_listening", host=self.settings.smtp_bind, port=self.port, tls=self.settings.smtp_tls)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        live = self._live()
        for session in live:
            if session.transport is not None:
                session.transport.close()
        if live:
            self._idle.clear()
            await wait_set(self._idle, STOP_GRACE_SECONDS)
        await self._server.wait_closed()
        self._server = None

    def _live(self) -> list[CaptureSMTP]:
        return [session for session in self._sessions if session.transport is not None]

    def _closed(self, session: CaptureSMTP) -> None:
        self._sessions.discard(session)
        if not self._live():
            self._idle.set()

    def _session(self) -> CaptureSMTP:
        settings = self.settings
        starttls = self._tls if settings.smtp_tls == "starttls" else None
        session = CaptureSMTP(
            self.handler,
            max_line_bytes=settings.smtp_max_line_bytes,
            data_size_limit=settings.smtp_max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.smtp_hostname,
            ident="Postroom",
            tls_context=starttls,
            # Implicit TLS encrypts the whole connection, which aiosmtpd cannot see.
            auth_require_tls=not settings.smtp_auth_allow_insecure and settings.smtp_tls != "implicit",
            loop=asyncio.get_running_loop(),
        )
        session.on_close = self._closed
        self._sessions.add(session)
        metrics.SMTP_SESSIONS.inc()
        return session
