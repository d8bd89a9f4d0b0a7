"""SMTP AUTH for the capture server: who may send, and which tenant their mail lands in.

Modes (``POSTROOM_SMTP_AUTH``):

- ``none``: AUTH is not advertised or required; a client that authenticates anyway is
  accepted (an API key still routes its mail to the key's tenant).
- ``any``: AUTH is required and any username/password is accepted.
- ``file``: AUTH is required and checked against a credentials file, one
  ``username:password[:tenant_id]`` per line (``#`` comments and blank lines allowed;
  the password may be an Argon2 hash ``$argon2...``).

In every mode a password that is a Postroom API key (role developer or higher) sends
the session's mail to that key's tenant; an API key that does not resolve is refused.
"""

from __future__ import annotations

import asyncio
import binascii
import hmac
from base64 import b64decode
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aiosmtpd.smtp import MISSING, SMTP

from postroom.auth.roles import Role
from postroom.auth.secrets import looks_like_api_key, verify_password
from postroom.auth.service import Principal
from postroom.capture import replies
from postroom.config import ConfigError, Settings

__all__ = [
    "ApiKeyResolver",
    "Credential",
    "CredentialsFile",
    "CredentialsFileError",
    "SmtpAuthenticator",
    "SmtpLogin",
    "parse_credentials",
    "read_login",
    "read_plain",
]

AuthMode = Literal["none", "any", "file"]
ApiKeyResolver = Callable[[str], Awaitable[Principal | None]]
MIN_API_KEY_ROLE = Role.DEVELOPER
HASH_PREFIX = "$argon2"
USERNAME_CHALLENGE = "Username:"
PASSWORD_CHALLENGE = "Password:"


class CredentialsFileError(ConfigError):
    """A line of the credentials file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    secret: str  # the password in plain text, or its Argon2 hash
    tenant_id: int | None = None

    @property
    def is_hashed(self) -> bool:
        return self.secret.startswith(HASH_PREFIX)


@dataclass(frozen=True, slots=True)
class SmtpLogin:
    """Who an SMTP session authenticated as; its mail goes to ``tenant_id``."""

    username: str
    tenant_id: int
    via: Literal["any", "file", "api_key"]


def parse_credentials(text: str, *, source: str = "credentials file") -> dict[str, Credential]:
    """Parse ``username:password[:tenant_id]`` lines.

    A trailing ``:digits`` field is read as the tenant id, so a plain password that
    itself ends in ``:digits`` needs a tenant field after it.
    """
    found: dict[str, Credential] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        username, sep, rest = stripped.partition(":")
        if not sep or not username or not rest:
            raise CredentialsFileError(f"{source} line {number}: expected username:password[:tenant_id]")
        secret, tenant_id = rest, None
        head, sep, tail = rest.rpartition(":")
        if sep and head and tail.isdigit():
            secret, tenant_id = head, int(tail)
        if username in found:
            raise CredentialsFileError(f"{source} line {number}: user {username!r} is listed twice")
        found[username] = Credential(username, secret, tenant_id)
    return found


class CredentialsFile:
    """The credentials file, read again whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, Credential] = {}
        self.get()  # a missing or malformed file is a startup error, not a 535 later

    def get(self) -> Mapping[str, Credential]:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise ConfigError(f"POSTROOM_SMTP_AUTH_FILE {self.path} cannot be read: {exc}") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._entries = parse_credentials(self.path.read_text(encoding="utf-8"), source=str(self.path))
            self._stamp = stamp
        return self._entries


class SmtpAuthenticator:
    def __init__(
        self,
        mode: AuthMode,
        *,
        default_tenant_id: int,
        credentials: CredentialsFile | None = None,
        resolve_api_key: ApiKeyResolver | None = None,
    ) -> None:
        if mode == "file" and credentials is None:
            raise ConfigError("POSTROOM_SMTP_AUTH=file needs POSTROOM_SMTP_AUTH_FILE")
        self.mode = mode
        self.default_tenant_id = default_tenant_id
        self.credentials = credentials
        self.resolve_api_key = resolve_api_key

    @classmethod
    def from_settings(
        cls, settings: Settings, *, default_tenant_id: int, resolve_api_key: ApiKeyResolver | None = None
    ) -> SmtpAuthenticator:
        credentials = None
        if settings.smtp_auth == "file":
            if settings.smtp_auth_file is None:
                raise ConfigError("POSTROOM_SMTP_AUTH=file needs POSTROOM_SMTP_AUTH_FILE")
            credentials = CredentialsFile(settings.smtp_auth_file)
        return cls(
            settings.smtp_auth,
            default_tenant_id=default_tenant_id,
            credentials=credentials,
            resolve_api_key=resolve_api_key,
        )

    @property
    def required(self) -> bool:
        return self.mode != "none"

    async def authenticate(self, username: str, password: str) -> SmtpLogin | None:
        """The login for these credentials, or None when they are refused (535)."""
        if self.resolve_api_key is not None and looks_like_api_key(password):
            principal = await self.resolve_api_key(password)
            if principal is None or not principal.role.at_least(MIN_API_KEY_ROLE):
                return None
            return SmtpLogin(username, principal.tenant_id, "api_key")
        if self.mode != "file":
            return SmtpLogin(username, self.default_tenant_id, "any")
        assert self.credentials is not None
        entry = self.credentials.get().get(username)
        if entry is None or not await _password_matches(entry, password):
            return None
        tenant_id = entry.tenant_id if entry.tenant_id is not None else self.default_tenant_id
        return SmtpLogin(username, tenant_id, "file")


async def _password_matches(entry: Credential, password: str) -> bool:
    if entry.is_hashed:  # Argon2 is slow on purpose: keep it off the event loop
        return await asyncio.to_thread(verify_password, entry.secret, password)
    return hmac.compare_digest(entry.secret.encode(), password.encode())


# ---- SASL PLAIN and LOGIN on the wire (RFC 4616, draft-murchison-sasl-login) ----------


async def _decoded(server: SMTP, blob: str | bytes) -> bytes | None:
    try:
        return b64decode(blob, validate=True)
    except binascii.Error:
        await server.push(str(replies.AUTH_BAD_BASE64))
        return None


async def _challenge(server: SMTP, prompt: str) -> bytes | None:
    answer = await server.challenge_auth(prompt)  # pushes its own 501 on "*" or bad base64
    return None if answer is MISSING else answer


def _text(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def _credentials(server: SMTP, username: bytes, password: bytes) -> tuple[str, str] | None:
    user, secret = _text(username), _text(password)
    if user is None or secret is None:
        await server.push(str(replies.AUTH_INVALID))
        return None
    return user, secret


async def read_plain(server: SMTP, args: list[str]) -> tuple[str, str] | None:
    """(username, password) of ``AUTH PLAIN [initial-response]``; None once a reply was sent."""
    blob = await _challenge(server, "") if len(args) == 1 else await _decoded(server, args[1])
    if blob is None:
        return None
    parts = blob.split(b"\x00")
    if len(parts) != 3:
        await server.push(str(replies.AUTH_MALFORMED))
        return None
    return await _credentials(server, parts[1], parts[2])


async def read_login(server: SMTP, args: list[str]) -> tuple[str, str] | None:
    """(username, password) of ``AUTH LOGIN [username]``; None once a reply was sent."""
    username = await _challenge(server, USERNAME_CHALLENGE) if len(args) == 1 else await _decoded(server, args[1])
    if username is None:
        return None
    password = await _challenge(server, PASSWORD_CHALLENGE)
    if password is None:
        return None
    return await _credentials(server, username, password)
