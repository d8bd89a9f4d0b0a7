"""Release: relay a captured message, byte for byte, to a real SMTP server (a job).

The job kind is ``capture.release`` with payload
``{"message_id": int, "tenant_id": int, "to": [str, ...], "mail_from": str | None}``.
A 4xx answer, a lost connection or a timeout is retried by the job worker; a 5xx
answer, a recipient outside ``POSTROOM_RELEASE_ALLOWED_RECIPIENTS`` or a message that
no longer exists fails the job for good.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosmtplib
import structlog

from postroom.config import ConfigError, Settings
from postroom.core.jobs import ClaimedJob
from postroom.core.messages import MessageNotFound, MessageService
from postroom.core.worker import JobHandler, PermanentJobError
from postroom.mime import parse_headers

__all__ = [
    "RELEASE_JOB",
    "ReleaseDeferred",
    "ReleaseRequest",
    "make_release_handler",
    "release_recipients_ok",
]

log = structlog.get_logger(__name__)

RELEASE_JOB = "capture.release"
RELEASE_TIMEOUT_SECONDS = 30.0


class ReleaseDeferred(Exception):
    """The relay failed for now (4xx, connection, timeout); the job is retried."""


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    message_id: int
    tenant_id: int
    to: tuple[str, ...]
    mail_from: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ReleaseRequest:
        message_id, tenant_id = payload.get("message_id"), payload.get("tenant_id")
        to, mail_from = payload.get("to"), payload.get("mail_from")
        if not isinstance(message_id, int) or not isinstance(tenant_id, int):
            raise PermanentJobError("release payload needs integer message_id and tenant_id")
        if not isinstance(to, list) or not to or not all(isinstance(r, str) and r for r in to):
            raise PermanentJobError("release payload needs a non-empty list of recipients in 'to'")
        if mail_from is not None and not isinstance(mail_from, str):
            raise PermanentJobError("release payload 'mail_from' must be a string or null")
        return cls(message_id, tenant_id, tuple(to), mail_from)

    def to_payload(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "tenant_id": self.tenant_id,
            "to": list(self.to),
            "mail_from": self.mail_from,
        }


def _allowed(pattern: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"POSTROOM_RELEASE_ALLOWED_RECIPIENTS is not a valid regular expression: {exc}") from exc


def _outside(recipients: Sequence[str], allowed: re.Pattern[str] | None) -> list[str]:
    if allowed is None:
        return []
    return [address for address in recipients if allowed.search(address) is None]


def release_recipients_ok(recipients: Sequence[str], allowed_pattern: str) -> bool:
    """Whether every recipient matches the allow rule (a regex searched in the address; empty allows all)."""
    return bool(recipients) and not _outside(recipients, _allowed(allowed_pattern))


def _client(settings: Settings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.release_host,
        port=settings.release_port,
        use_tls=settings.release_tls == "implicit",
        start_tls=settings.release_tls == "starttls",
        username=settings.release_username or None,
        password=settings.release_password or None,
        timeout=RELEASE_TIMEOUT_SECONDS,
    )


def _response_error(code: int, text: str) -> Exception:
    if code >= 500:
        return PermanentJobError(f"relay refused with {code} {text}")
    return ReleaseDeferred(f"relay deferred with {code} {text}")


async def relay(
    settings: Settings, sender: str, recipients: Sequence[str], raw: bytes
) -> tuple[list[str], dict[str, str]]:
    """Send ``raw`` to the release server: (accepted recipients, refused recipient -> reply)."""
    mail_options = []
    if not all(address.isascii() for address in (sender, *recipients)):
        mail_options.append("SMTPUTF8")
    try:
        async with _client(settings) as client:
            if client.last_ehlo_response is None:
                await client.ehlo()
            if not raw.isascii() and client.supports_extension("8bitmime"):
                mail_options.append("BODY=8BITMIME")
            errors, _reply = await client.sendmail(sender, list(recipients), raw, mail_options=mail_options)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refusal.code for refusal in exc.recipients]
        summary = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        raise _response_error(min(codes), summary) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _response_error(exc.code, exc.message) from exc
    except aiosmtplib.SMTPNotSupported as exc:
        raise PermanentJobError(f"the release server cannot take this message: {exc}") from exc
    except ValueError as exc:  # an address aiosmtplib will not put on the wire
        raise PermanentJobError(str(exc)) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise ReleaseDeferred(f"cannot reach the release server: {exc}") from exc
    refused = {address: f"{reply.code} {reply.message}" for address, reply in errors.items()}
    return [address for address in recipients if address not in refused], refused


def make_release_handler(settings: Settings, messages: MessageService) -> JobHandler:
    """The job handler for ``capture.release``; refuses a bad allow-rule at start-up."""
    allowed = _allowed(settings.release_allowed_recipients)

    async def release(job: ClaimedJob) -> dict[str, Any]:
        request = ReleaseRequest.from_payload(job.payload)
        if not settings.release_host:
            raise PermanentJobError("release is not configured: set POSTROOM_RELEASE_HOST")
        if outside := _outside(request.to, allowed):
            raise PermanentJobError(f"recipients not allowed for release: {', '.join(outside)}")
        try:
            raw = await messages.raw(request.tenant_id, request.message_id)
        except MessageNotFound as exc:
            raise PermanentJobError(f"message {request.message_id} no longer exists") from exc
        sender = request.mail_from
        if sender is None:
            from_header = parse_headers(raw).sender
            sender = from_header.address if from_header else ""
        accepted, refused = await relay(settings, sender, request.to, raw)
        log.info("message_released", message_id=request.message_id, accepted=len(accepted), refused=len(refused))
        return {"accepted": accepted, "refused": refused}

    return release
