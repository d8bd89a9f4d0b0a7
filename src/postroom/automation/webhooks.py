"""Outgoing webhooks, signed the Standard Webhooks way: the public surface of this capability.

``WebhookService`` manages endpoints and reads the delivery log; ``WebhookDispatcher``
turns events into ``webhook.deliver`` jobs; ``make_webhook_handler`` runs those jobs;
``verify_signature`` is what a receiver does with what it gets.
"""

from postroom.automation.deliveries import TEST_EVENT_TYPE, WEBHOOK_JOB, DeliveryRequest
from postroom.automation.delivery import WebhookFailed, event_message, make_webhook_handler
from postroom.automation.dispatcher import WebhookDispatcher
from postroom.automation.endpoints import KEEP, WebhookService
from postroom.automation.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from postroom.automation.signing import SignatureError, new_secret, sign, verify_signature
from postroom.automation.urlguard import UnsafeUrl, resolve_url

__all__ = [
    "KEEP",
    "TEST_EVENT_TYPE",
    "WEBHOOK_JOB",
    "DeliveryRequest",
    "DeliveryStatus",
    "SignatureError",
    "UnsafeUrl",
    "WebhookDelivery",
    "WebhookDispatcher",
    "WebhookEndpoint",
    "WebhookFailed",
    "WebhookService",
    "event_message",
    "make_webhook_handler",
    "new_secret",
    "resolve_url",
    "sign",
    "verify_signature",
]
