"""Verify and read the event webhooks of SES (via SNS), SendGrid, Mailgun and MailerSend.

Each module has ``verify_and_parse(headers, body, config, now=None)``: it raises
``WebhookSignatureError`` (answer 401) for a bad signature, a stale timestamp or a malformed
body, and otherwise returns ``ProviderEvent`` values (SES: an ``SnsDelivery`` holding them,
awaited because of the certificate fetch). Nothing here touches the database: the caller
stores the events and refuses a second one with the same ``(provider, event_id)``.
"""

from __future__ import annotations

from postroom.send.provider_events.event import (
    DEFAULT_TOLERANCE_SECONDS,
    BounceKind,
    EventType,
    ProviderEvent,
    WebhookSignatureError,
)
from postroom.send.provider_events.mailersend import MailerSendWebhookConfig
from postroom.send.provider_events.mailgun import MailgunWebhookConfig
from postroom.send.provider_events.sendgrid import SendGridWebhookConfig
from postroom.send.provider_events.ses import DEFAULT_CERT_HOST_PATTERN, SesWebhookConfig, SnsDelivery, SnsFetcher

__all__ = [
    "DEFAULT_CERT_HOST_PATTERN",
    "DEFAULT_TOLERANCE_SECONDS",
    "BounceKind",
    "EventType",
    "MailerSendWebhookConfig",
    "MailgunWebhookConfig",
    "ProviderEvent",
    "SendGridWebhookConfig",
    "SesWebhookConfig",
    "SnsDelivery",
    "SnsFetcher",
    "WebhookSignatureError",
]
