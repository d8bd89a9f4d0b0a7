"""Pieces of the JSON bodies that SendGrid and MailerSend take instead of raw MIME."""

from __future__ import annotations

import base64
from email.utils import parseaddr

from postroom.send.transport import Attachment, DeliveryBounced, OutboundMessage


def mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of one header mailbox such as ``"Shop" <shop@example.com>``."""
    name, address = parseaddr(value)
    return name, address or value.strip()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def disposition(attachment: Attachment) -> str:
    return "inline" if attachment.content_id else "attachment"


def content_id(attachment: Attachment) -> str | None:
    return attachment.content_id.strip("<>") if attachment.content_id else None


def require_body(provider: str, message: OutboundMessage) -> None:
    if not message.text and not message.html:
        raise DeliveryBounced(f"{provider} needs a text or HTML body and the message has neither")
