"""The one shape every provider's webhook event is turned into, and the one error a bad delivery raises."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

EventType = Literal[
    "sent",  # the provider handed the message to the recipient's server (MailerSend, SES "Send")
    "delivered",
    "deferred",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "failed",  # the provider dropped or rejected the message without trying the recipient
]
BounceKind = Literal["hard", "soft"]
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class ProviderEvent:
    provider: str  # ses, sendgrid, mailgun or mailersend
    event_id: str  # unique per event at that provider: store it to refuse replays
    type: EventType
    recipient: str
    timestamp: datetime
    provider_message_id: str | None = None
    reference: str | None = None  # ours (OutboundMessage.reference) when the provider carried it back
    bounce_kind: BounceKind | None = None
    diagnostic: str | None = None  # the remote server's reply or the provider's reason
    url: str | None = None  # the link of a click
    provider_type: str = ""  # the provider's own name for the event


class WebhookSignatureError(Exception):
    """The webhook delivery is not provably from the provider: bad signature, stale timestamp or bad body."""

    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` present in ``headers``, matched without regard to case."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None:
            return value
    return None


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookSignatureError(f"the body is not JSON: {exc}") from None


def utc_now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def from_unix(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise WebhookSignatureError(f"the timestamp {value!r} is not a Unix time") from None


def from_iso(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise WebhookSignatureError(f"the timestamp {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_fresh(moment: datetime, now: datetime | None, tolerance_seconds: float) -> None:
    """Refuse a signed timestamp further than the tolerance from now (either way: clocks drift)."""
    skew = abs((utc_now(now) - moment).total_seconds())
    if skew > tolerance_seconds:
        raise WebhookSignatureError(
            f"the signed timestamp {moment.isoformat()} is {int(skew)} s away from now "
            f"(tolerance {int(tolerance_seconds)} s): refusing a stale or replayed delivery"
        )


def text(value: Any) -> str | None:
    """A non-empty string from an optional JSON value."""
    if value is None:
        return None
    result = str(value).strip()
    return result or None
