"""Local servers that speak the email providers' documented HTTP formats, for the tests.

Each checks what it receives as the real provider would (signatures, auth, required fields),
answers like it, records every request, can be told to answer an error next, and can make
correctly signed webhook deliveries.
"""

from tests.fakes.mailersend import FakeMailerSend, mailersend_delivery
from tests.fakes.mailgun import FakeMailgun, mailgun_delivery, mailgun_signature
from tests.fakes.sendgrid import FakeSendGrid, SendGridWebhookSigner
from tests.fakes.server import FakeServer, Received
from tests.fakes.ses import FakeSes
from tests.fakes.sns import FakeSns

__all__ = [
    "FakeMailerSend",
    "FakeMailgun",
    "FakeSendGrid",
    "FakeServer",
    "FakeSes",
    "FakeSns",
    "Received",
    "SendGridWebhookSigner",
    "mailersend_delivery",
    "mailgun_delivery",
    "mailgun_signature",
]
