"""Provider event webhooks: verify the provider's signature, refuse replays, apply the events.

Each provider's scheme lives in ``send.provider_events``; this module picks the
configuration from the settings and turns verified events into feedback.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from postroom.config import Settings
from postroom.send.feedback import Applied, Feedback, FeedbackService, reference_id
from postroom.send.provider_events import mailersend, mailgun, sendgrid, ses
from postroom.send.provider_events.event import ProviderEvent, WebhookSignatureError

PROVIDERS = ("ses", "sendgrid", "mailgun", "mailersend")


class WebhookNotConfigured(LookupError):
    """The provider's verification key is not set, so no delivery can be trusted."""


def to_feedback(event: ProviderEvent) -> Feedback:
    return Feedback(
        type=event.type,
        source=event.provider,
        delivery_id=reference_id(event.reference),
        provider_message_id=event.provider_message_id,
        recipient=event.recipient,
        bounce_kind=event.bounce_kind,
        diagnostic=event.diagnostic,
        url=event.url,
        event_id=event.event_id,
    )


class ProviderWebhooks:
    def __init__(self, settings: Settings, feedback: FeedbackService) -> None:
        self.settings = settings
        self.feedback = feedback
        trust: ssl.SSLContext | bool = True
        if settings.sns_ca_bundle is not None:
            trust = ssl.create_default_context(cafile=str(settings.sns_ca_bundle))
        self.fetcher = ses.SnsFetcher(settings.sns_cert_host_pattern, verify=trust)

    async def close(self) -> None:
        await self.fetcher.close()

    async def receive(self, provider: str, headers: Mapping[str, str], body: bytes) -> dict[str, object]:
        """Raises WebhookSignatureError (401) or WebhookNotConfigured (404)."""
        tolerance = self.settings.webhook_tolerance_seconds
        events: list[ProviderEvent]
        if provider == "ses":
            delivery = await ses.verify_and_parse(headers, body, ses.SesWebhookConfig(self.fetcher, tolerance))
            if delivery.needs_confirmation and delivery.subscribe_url:
                await self.fetcher.confirm(delivery.subscribe_url)
                return {"confirmed": delivery.topic_arn}
            events = delivery.events
        elif provider == "sendgrid":
            key = self._required(self.settings.sendgrid_webhook_public_key, "SENDGRID_WEBHOOK_PUBLIC_KEY")
            events = sendgrid.verify_and_parse(headers, body, sendgrid.SendGridWebhookConfig(key, tolerance))
        elif provider == "mailgun":
            key = self._required(self.settings.mailgun_webhook_signing_key, "MAILGUN_WEBHOOK_SIGNING_KEY")
            events = mailgun.verify_and_parse(headers, body, mailgun.MailgunWebhookConfig(key, tolerance))
        elif provider == "mailersend":
            key = self._required(self.settings.mailersend_webhook_secret, "MAILERSEND_WEBHOOK_SECRET")
            events = mailersend.verify_and_parse(headers, body, mailersend.MailerSendWebhookConfig(key))
        else:
            raise WebhookNotConfigured(f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
        applied = await self.feedback.apply([to_feedback(e) for e in events])
        if events and applied.replayed == len(events):
            raise WebhookSignatureError("every event in this delivery was received before (a replay)")
        return _summary(applied)

    @staticmethod
    def _required(value: str, name: str) -> str:
        if not value:
            raise WebhookNotConfigured(f"set {name} to accept these webhooks")
        return value


def _summary(applied: Applied) -> dict[str, object]:
    return {"matched": applied.matched, "unmatched": applied.unmatched, "replayed": applied.replayed}
