"""What every transport (SMTP, capture, SES, SendGrid, Mailgun, MailerSend) accepts and answers.

A delivery is one message to one envelope recipient, so every recipient has exactly one
outcome. A transport returns a ``DeliveryResult`` when the other side took the message,
raises ``DeliveryDeferred`` for anything worth retrying (4xx, timeouts, 429, 5xx from an
HTTP API) and ``DeliveryBounced`` when the other side refused it for good (SMTP 5xx, an
invalid-recipient answer). Any other exception counts as deferred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None  # set for inline (cid:) parts


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered message for one envelope recipient.

    ``raw`` is the complete RFC 5322 message (DKIM-signed when the domain has a key):
    SMTP, capture, SES (raw content) and Mailgun (MIME endpoint) send it as is. The
    structured fields are there for APIs that only take JSON (SendGrid, MailerSend).
    """

    reference: str  # our recipient id; providers carry it back in webhooks (custom args / tags / headers)
    message_id: str  # the Message-ID header value, with angle brackets
    envelope_from: str
    recipient: str
    from_header: str
    to: tuple[str, ...]
    subject: str
    raw: bytes
    text: str | None = None
    html: str | None = None
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    response: str  # the remote answer, e.g. "250 2.0.0 Ok: queued as 4F2" or "202 Accepted"
    provider_message_id: str | None = None
    # True when acceptance is final (an SMTP server that delivers, the capture inbox);
    # False when the provider reports delivery later by webhook.
    delivered: bool = False


class DeliveryError(Exception):
    def __init__(self, response: str, code: int | None = None) -> None:
        super().__init__(response)
        self.response = response
        self.code = code


class DeliveryDeferred(DeliveryError):
    """Try again later (SMTP 4xx, a timeout, HTTP 429 or 5xx)."""


class DeliveryBounced(DeliveryError):
    """Refused for good (SMTP 5xx, an invalid recipient): no retry; a hard bounce suppresses the address."""


class Transport(Protocol):
    name: str

    async def send(self, message: OutboundMessage) -> DeliveryResult: ...

    async def close(self) -> None: ...
