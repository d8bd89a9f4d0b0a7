"""SendGrid's signed Event Webhook: ECDSA P-256 / SHA-256 over ``timestamp + raw body``.

The signature (base64 DER) is in ``X-Twilio-Email-Event-Webhook-Signature``, the Unix time
in ``X-Twilio-Email-Event-Webhook-Timestamp``; the public key is the base64 DER (or PEM)
that SendGrid shows in its mail settings. The body is a JSON array of events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from postroom.send.provider_events.event import (
    DEFAULT_TOLERANCE_SECONDS,
    BounceKind,
    EventType,
    ProviderEvent,
    WebhookSignatureError,
    check_fresh,
    from_unix,
    header,
    load_json,
    text,
)
from postroom.send.providers.sendgrid import REFERENCE_ARG

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

_TYPES: dict[str, EventType] = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "failed",
    "spamreport": "complained",
    "open": "opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}


def load_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or PEM."""
    try:
        if "BEGIN PUBLIC KEY" in value:
            key = load_pem_public_key(value.encode())
        else:
            key = load_der_public_key(base64.b64decode("".join(value.split()), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"the SendGrid webhook public key cannot be read: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the SendGrid webhook public key is not an elliptic-curve key")
    return key


@dataclass(frozen=True)
class SendGridWebhookConfig:
    public_key: str
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS

    def key(self) -> ec.EllipticCurvePublicKey:
        return load_public_key(self.public_key)


def verify(headers: Mapping[str, str], body: bytes, config: SendGridWebhookConfig, now: datetime | None) -> None:
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required")
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except binascii.Error:
        raise WebhookSignatureError("the signature is not base64") from None
    try:
        config.key().verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise WebhookSignatureError("the SendGrid signature does not match the body") from None
    check_fresh(from_unix(timestamp), now, config.tolerance_seconds)


def _message_id(item: Mapping[str, Any]) -> str | None:
    # sg_message_id is the X-Message-Id of the send answer followed by ".filter..." routing details.
    value = text(item.get("sg_message_id"))
    return value.split(".", 1)[0] if value else None


def _event(item: Any) -> ProviderEvent | None:
    if not isinstance(item, dict):
        raise WebhookSignatureError("every SendGrid event must be a JSON object")
    name = str(item.get("event", ""))
    kind = _TYPES.get(name)
    if kind is None:
        return None  # processed, group_resubscribe, ...: nothing a delivery needs
    event_id = text(item.get("sg_event_id"))
    recipient = text(item.get("email"))
    if not event_id or not recipient:
        raise WebhookSignatureError(f"a SendGrid {name} event lacks sg_event_id or email")
    bounce_kind: BounceKind | None = None
    if kind == "bounced":
        bounce_kind = "soft" if item.get("type") == "blocked" else "hard"
    elif kind == "deferred":
        bounce_kind = "soft"
    return ProviderEvent(
        provider="sendgrid",
        event_id=event_id,
        type=kind,
        recipient=recipient,
        timestamp=from_unix(item.get("timestamp")),
        provider_message_id=_message_id(item),
        reference=text(item.get(REFERENCE_ARG)),
        bounce_kind=bounce_kind,
        diagnostic=text(item.get("response")) or text(item.get("reason")),
        url=text(item.get("url")) if kind == "clicked" else None,
        provider_type=name,
    )


def verify_and_parse(
    headers: Mapping[str, str], body: bytes, config: SendGridWebhookConfig, now: datetime | None = None
) -> list[ProviderEvent]:
    verify(headers, body, config, now)
    items = load_json(body)
    if not isinstance(items, list):
        raise WebhookSignatureError("a SendGrid event delivery is a JSON array")
    return [event for event in map(_event, items) if event is not None]
