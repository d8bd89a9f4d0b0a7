"""SES events delivered by Amazon SNS: verify the SNS message signature, then read the SES record.

SNS signs a canonical string of the message's fields with the key of the certificate at
``SigningCertURL`` (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA). The certificate is
fetched only over https from a host matching the allowed pattern (``sns.<region>.amazonaws.com``
by default) and cached. A ``SubscriptionConfirmation`` comes back with its ``subscribe_url``;
``SnsFetcher.confirm`` visits it (same host rule) to start the subscription.

SES publishes two shapes: event publishing (``eventType``: Send, Delivery, Bounce, Complaint,
Reject, Open, Click, DeliveryDelay, Rendering Failure, Subscription) and identity notifications
(``notificationType``: Bounce, Complaint, Delivery). Both are read here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from postroom.send.provider_events.event import (
    DEFAULT_TOLERANCE_SECONDS,
    BounceKind,
    EventType,
    ProviderEvent,
    WebhookSignatureError,
    check_fresh,
    from_iso,
    header,
    load_json,
    text,
    utc_now,
)
from postroom.send.providers.ses import REFERENCE_TAG

DEFAULT_CERT_HOST_PATTERN = r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?"
MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"
_MAX_CACHED_CERTIFICATES = 64

SnsType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


class SnsFetcher:
    """Fetches SNS signing certificates (cached) and subscription URLs, only from allowed https hosts."""

    def __init__(
        self,
        host_pattern: str = DEFAULT_CERT_HOST_PATTERN,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.host_pattern = re.compile(host_pattern, re.IGNORECASE)
        self._client = httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=False)
        self._certificates: dict[str, x509.Certificate] = {}

    def check_url(self, url: str, what: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise WebhookSignatureError(f"the SNS {what} {url!r} is not https")
        if not parts.hostname or not self.host_pattern.fullmatch(parts.hostname):
            allowed = self.host_pattern.pattern
            raise WebhookSignatureError(f"the SNS {what} host {parts.hostname!r} does not match {allowed!r}")

    async def _get(self, url: str, what: str) -> httpx.Response:
        self.check_url(url, what)
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise WebhookSignatureError(f"the SNS {what} could not be fetched: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise WebhookSignatureError(f"the SNS {what} answered {response.status_code}")
        return response

    async def certificate(self, url: str) -> x509.Certificate:
        cached = self._certificates.get(url)
        if cached is not None:
            return cached
        response = await self._get(url, "signing certificate URL")
        try:
            certificate = x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise WebhookSignatureError("the SNS signing certificate is not a PEM certificate") from None
        if len(self._certificates) >= _MAX_CACHED_CERTIFICATES:
            self._certificates.pop(next(iter(self._certificates)))
        self._certificates[url] = certificate
        return certificate

    async def confirm(self, subscribe_url: str) -> None:
        """Visit a SubscriptionConfirmation's SubscribeURL, which starts the subscription."""
        await self._get(subscribe_url, "SubscribeURL")

    async def close(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class SesWebhookConfig:
    fetcher: SnsFetcher
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
    topic_arns: frozenset[str] = frozenset()  # empty: any topic


@dataclass(frozen=True)
class SnsDelivery:
    """One verified SNS message: its SES events, or a subscription the caller should confirm."""

    type: SnsType
    message_id: str
    topic_arn: str
    subscribe_url: str | None = None
    events: list[ProviderEvent] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return self.type == "SubscriptionConfirmation"


def string_to_sign(message: Mapping[str, Any]) -> str:
    """SNS's canonical form: for each signed field present, its name and value on their own lines."""
    names = _SIGNED_FIELDS.get(str(message.get("Type")))
    if names is None:
        raise WebhookSignatureError(f"unknown SNS message type {message.get('Type')!r}")
    return "".join(f"{name}\n{message[name]}\n" for name in names if message.get(name) is not None)


async def verify(
    headers: Mapping[str, str], message: Mapping[str, Any], config: SesWebhookConfig, now: datetime | None
) -> None:
    kind = str(message.get("Type", ""))
    announced = header(headers, MESSAGE_TYPE_HEADER)
    if announced is not None and announced != kind:
        raise WebhookSignatureError(f"the {MESSAGE_TYPE_HEADER} header says {announced!r}, the body {kind!r}")
    for name in ("MessageId", "Timestamp", "TopicArn", "Signature", "SigningCertURL"):
        if not isinstance(message.get(name), str):
            raise WebhookSignatureError(f"the SNS message has no {name}")
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise WebhookSignatureError(f"unsupported SNS SignatureVersion {message.get('SignatureVersion')!r}")
    if config.topic_arns and message["TopicArn"] not in config.topic_arns:
        raise WebhookSignatureError(f"the SNS topic {message['TopicArn']!r} is not one this endpoint accepts")
    canonical = string_to_sign(message)
    certificate = await config.fetcher.certificate(message["SigningCertURL"])
    moment = utc_now(now)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise WebhookSignatureError("the SNS signing certificate is not valid at this time")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookSignatureError("the SNS signing certificate does not hold an RSA key")
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        key.verify(signature, canonical.encode(), padding.PKCS1v15(), algorithm())
    except (binascii.Error, InvalidSignature):
        raise WebhookSignatureError("the SNS signature does not match the message") from None
    check_fresh(from_iso(message["Timestamp"]), now, config.tolerance_seconds)


# SES record parsing ------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _reference(mail: Mapping[str, Any]) -> str | None:
    values = _dict(mail.get("tags")).get(REFERENCE_TAG)
    if isinstance(values, list) and values:
        return text(values[0])
    return text(values)


def _bounce_kind(bounce: Mapping[str, Any]) -> BounceKind:
    return "hard" if bounce.get("bounceType") == "Permanent" else "soft"


@dataclass(frozen=True)
class _Row:
    type: EventType
    recipient: str
    timestamp: Any
    bounce_kind: BounceKind | None = None
    diagnostic: str | None = None
    url: str | None = None


def _recipient_rows(name: str, record: Mapping[str, Any], mail: Mapping[str, Any]) -> list[_Row]:
    destination = [str(address) for address in _list(mail.get("destination"))]
    if name == "Bounce":
        bounce = _dict(record.get("bounce"))
        kind = _bounce_kind(bounce)
        return [
            _Row(
                "bounced",
                str(item.get("emailAddress", "")),
                bounce.get("timestamp"),
                kind,
                text(item.get("diagnosticCode")) or text(item.get("status")) or text(bounce.get("bounceSubType")),
            )
            for item in map(_dict, _list(bounce.get("bouncedRecipients")))
        ]
    if name == "Complaint":
        complaint = _dict(record.get("complaint"))
        return [
            _Row(
                "complained",
                str(item.get("emailAddress", "")),
                complaint.get("timestamp"),
                diagnostic=text(complaint.get("complaintFeedbackType")),
            )
            for item in map(_dict, _list(complaint.get("complainedRecipients")))
        ]
    if name == "Delivery":
        delivery = _dict(record.get("delivery"))
        reply = text(delivery.get("smtpResponse"))
        return [
            _Row("delivered", str(address), delivery.get("timestamp"), diagnostic=reply)
            for address in _list(delivery.get("recipients"))
        ]
    if name == "DeliveryDelay":
        delay = _dict(record.get("deliveryDelay"))
        return [
            _Row(
                "deferred",
                str(item.get("emailAddress", "")),
                delay.get("timestamp"),
                "soft",
                text(item.get("diagnosticCode")) or text(delay.get("delayType")),
            )
            for item in map(_dict, _list(delay.get("delayedRecipients")))
        ]
    if name == "Open":
        opened = _dict(record.get("open"))
        return [_Row("opened", address, opened.get("timestamp")) for address in destination]
    if name == "Click":
        click = _dict(record.get("click"))
        return [
            _Row("clicked", address, click.get("timestamp"), url=text(click.get("link"))) for address in destination
        ]
    if name == "Send":
        return [_Row("sent", address, mail.get("timestamp")) for address in destination]
    if name == "Reject":
        reason = text(_dict(record.get("reject")).get("reason"))
        return [_Row("failed", address, mail.get("timestamp"), diagnostic=reason) for address in destination]
    if name == "Rendering Failure":
        failure = _dict(record.get("failure"))
        reason = text(failure.get("errorMessage"))
        return [_Row("failed", address, mail.get("timestamp"), diagnostic=reason) for address in destination]
    if name == "Subscription":
        subscription = _dict(record.get("subscription"))
        return [_Row("unsubscribed", address, subscription.get("timestamp")) for address in destination]
    return []


def parse_ses_record(record: Any, sns_message_id: str, sns_timestamp: str) -> list[ProviderEvent]:
    """The events of one SES record (one per recipient it names)."""
    if not isinstance(record, dict):
        return []
    name = str(record.get("eventType") or record.get("notificationType") or "")
    mail = _dict(record.get("mail"))
    rows = [row for row in _recipient_rows(name, record, mail) if row.recipient]
    events = []
    for index, row in enumerate(rows):
        events.append(
            ProviderEvent(
                provider="ses",
                event_id=sns_message_id if len(rows) == 1 else f"{sns_message_id}#{index}",
                type=row.type,
                recipient=row.recipient,
                timestamp=from_iso(row.timestamp or mail.get("timestamp") or sns_timestamp),
                provider_message_id=text(mail.get("messageId")),
                reference=_reference(mail),
                bounce_kind=row.bounce_kind,
                diagnostic=row.diagnostic,
                url=row.url,
                provider_type=name,
            )
        )
    return events


async def verify_and_parse(
    headers: Mapping[str, str], body: bytes, config: SesWebhookConfig, now: datetime | None = None
) -> SnsDelivery:
    message = load_json(body)
    if not isinstance(message, dict):
        raise WebhookSignatureError("an SNS message is a JSON object")
    await verify(headers, message, config, now)
    kind: SnsType = message["Type"]
    events: list[ProviderEvent] = []
    if kind == "Notification":
        try:
            record = json.loads(str(message.get("Message", "")))
        except ValueError:
            record = None  # a signed plain-text notice, such as SES's topic validation message
        events = parse_ses_record(record, message["MessageId"], message["Timestamp"])
    return SnsDelivery(
        type=kind,
        message_id=message["MessageId"],
        topic_arn=message["TopicArn"],
        subscribe_url=text(message.get("SubscribeURL")),
        events=events,
    )
