"""MailerSend webhooks: HMAC-SHA256 of the raw body with the signing secret, hex, in ``Signature``.

The signature covers no timestamp header, so a replay is caught by the event id
(``data.id``, unique per activity), which the caller stores.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postroom.send.provider_events.event import (
    BounceKind,
    EventType,
    ProviderEvent,
    WebhookSignatureError,
    from_iso,
    header,
    load_json,
    text,
)
from postroom.send.providers.mailersend import REFERENCE_HEADER

SIGNATURE_HEADERS = ("Signature", "X-Mailersend-Signature")

_TYPES: dict[str, tuple[EventType, BounceKind | None]] = {
    "activity.sent": ("sent", None),
    "activity.delivered": ("delivered", None),
    "activity.soft_bounced": ("bounced", "soft"),
    "activity.hard_bounced": ("bounced", "hard"),
    "activity.opened": ("opened", None),
    "activity.clicked": ("clicked", None),
    "activity.unsubscribed": ("unsubscribed", None),
    "activity.spam_complaint": ("complained", None),
}


@dataclass(frozen=True)
class MailerSendWebhookConfig:
    secret: str


def verify(headers: Mapping[str, str], body: bytes, config: MailerSendWebhookConfig) -> None:
    signature = header(headers, *SIGNATURE_HEADERS)
    if not signature:
        raise WebhookSignatureError("the Signature header is required")
    expected = hmac.new(config.secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise WebhookSignatureError("the MailerSend signature does not match the body")


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookSignatureError(f"the MailerSend body has no {name} object")
    return value


def _reference(email: Mapping[str, Any]) -> str | None:
    headers = email.get("headers")
    if isinstance(headers, dict):
        return text(next((v for k, v in headers.items() if k.lower() == REFERENCE_HEADER.lower()), None))
    if isinstance(headers, list):
        for item in headers:
            if isinstance(item, dict) and str(item.get("name", "")).lower() == REFERENCE_HEADER.lower():
                return text(item.get("value"))
    return None


def _diagnostic(data: Mapping[str, Any], email: Mapping[str, Any]) -> str | None:
    morph = data.get("morph")
    if isinstance(morph, dict):
        found = text(morph.get("reason")) or text(morph.get("readable_reason"))
        if found:
            return found
    return text(data.get("reason")) or text(email.get("status"))


def verify_and_parse(
    headers: Mapping[str, str], body: bytes, config: MailerSendWebhookConfig, now: datetime | None = None
) -> list[ProviderEvent]:
    """The event of one MailerSend delivery (``now`` is unused: the signature covers no timestamp)."""
    verify(headers, body, config)
    document = _obj(load_json(body), "top-level")
    name = str(document.get("type", ""))
    mapped = _TYPES.get(name)
    if mapped is None:
        return []  # webhook.test pings and events no delivery needs
    kind, bounce_kind = mapped
    data = _obj(document.get("data"), "data")
    email = _obj(data.get("email"), "data.email")
    recipient_block = email.get("recipient")
    recipient = text(recipient_block.get("email")) if isinstance(recipient_block, dict) else None
    event_id = text(data.get("id"))
    if not recipient or not event_id:
        raise WebhookSignatureError(f"the MailerSend {name} event lacks data.id or data.email.recipient.email")
    message = email.get("message")
    morph = data.get("morph")
    return [
        ProviderEvent(
            provider="mailersend",
            event_id=event_id,
            type=kind,
            recipient=recipient,
            timestamp=from_iso(data.get("created_at") or document.get("created_at")),
            provider_message_id=text(message.get("id")) if isinstance(message, dict) else None,
            reference=_reference(email),
            bounce_kind=bounce_kind,
            diagnostic=_diagnostic(data, email) if kind == "bounced" else None,
            url=text(morph.get("url")) if kind == "clicked" and isinstance(morph, dict) else None,
            provider_type=name,
        )
    ]
