"""Mailgun webhooks: HMAC-SHA256 with the webhook signing key over ``timestamp + token``.

The signature sits in the JSON body (``signature.{timestamp,token,signature}``) next to
``event-data``. Mailgun never reuses a token, so the token is the event id: a caller that
stores it refuses the same delivery twice. The timestamp must be fresh.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postroom.send.provider_events.event import (
    DEFAULT_TOLERANCE_SECONDS,
    BounceKind,
    EventType,
    ProviderEvent,
    WebhookSignatureError,
    check_fresh,
    from_unix,
    load_json,
    text,
)
from postroom.send.providers.mailgun import REFERENCE_VARIABLE

_TYPES: dict[str, EventType] = {
    "delivered": "delivered",
    "failed": "bounced",
    "rejected": "failed",
    "complained": "complained",
    "opened": "opened",
    "clicked": "clicked",
    "unsubscribed": "unsubscribed",
}


@dataclass(frozen=True)
class MailgunWebhookConfig:
    signing_key: str
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS


def _signature(body: Any) -> tuple[str, str, str]:
    block = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(block, dict):
        raise WebhookSignatureError("the Mailgun body has no signature object")
    values = (text(block.get("timestamp")), text(block.get("token")), text(block.get("signature")))
    timestamp, token, signature = values
    if not timestamp or not token or not signature:
        raise WebhookSignatureError("the Mailgun signature needs timestamp, token and signature")
    return timestamp, token, signature


def verify(body: Any, config: MailgunWebhookConfig, now: datetime | None) -> str:
    """The token of a correctly signed, fresh delivery."""
    timestamp, token, signature = _signature(body)
    expected = hmac.new(config.signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise WebhookSignatureError("the Mailgun signature does not match")
    check_fresh(from_unix(timestamp), now, config.tolerance_seconds)
    return token


def _diagnostic(data: Mapping[str, Any]) -> str | None:
    status = data.get("delivery-status")
    if isinstance(status, dict):
        code = text(status.get("code"))
        message = text(status.get("message")) or text(status.get("description"))
        if message:
            return f"{code} {message}" if code else message
    return text(data.get("reason"))


def _message_id(data: Mapping[str, Any]) -> str | None:
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    value = text(headers.get("message-id")) if isinstance(headers, dict) else None
    return value.strip("<>") if value else None


def _reference(data: Mapping[str, Any]) -> str | None:
    variables = data.get("user-variables")
    return text(variables.get(REFERENCE_VARIABLE)) if isinstance(variables, dict) else None


def parse(data: Any, token: str) -> list[ProviderEvent]:
    if not isinstance(data, dict):
        raise WebhookSignatureError("the Mailgun body has no event-data object")
    name = str(data.get("event", ""))
    kind = _TYPES.get(name)
    if kind is None:
        return []  # accepted, stored, list events: nothing a delivery needs
    recipient = text(data.get("recipient"))
    if not recipient:
        raise WebhookSignatureError(f"the Mailgun {name} event has no recipient")
    bounce_kind: BounceKind | None = None
    if name == "failed":
        if data.get("severity") == "temporary":
            kind, bounce_kind = "deferred", "soft"
        else:
            bounce_kind = "hard"
    return [
        ProviderEvent(
            provider="mailgun",
            event_id=token,
            type=kind,
            recipient=recipient,
            timestamp=from_unix(data.get("timestamp")),
            provider_message_id=_message_id(data),
            reference=_reference(data),
            bounce_kind=bounce_kind,
            diagnostic=_diagnostic(data) if kind in {"bounced", "deferred", "failed", "delivered"} else None,
            url=text(data.get("url")) if kind == "clicked" else None,
            provider_type=name if name != "failed" else f"failed:{data.get('severity', 'permanent')}",
        )
    ]


def verify_and_parse(
    headers: Mapping[str, str], body: bytes, config: MailgunWebhookConfig, now: datetime | None = None
) -> list[ProviderEvent]:
    """The events of one Mailgun delivery; each has the signature token as its event id."""
    document = load_json(body)
    token = verify(document, config, now)
    return parse(document.get("event-data"), token)
