"""SendGrid v3 ``POST /v3/mail/send`` (JSON); 202 means accepted and ``X-Message-Id`` names the message.

SendGrid builds the MIME itself, so the structured fields of the message are sent. Our
reference goes in ``custom_args``, which SendGrid copies into every event of the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postroom.send.providers import options as opts
from postroom.send.providers.http import DEFAULT_TIMEOUT, ProviderClient
from postroom.send.providers.payload import JsonMailApi, attachment_items, mailbox, require_body
from postroom.send.transport import OutboundMessage

DEFAULT_BASE_URL = "https://api.sendgrid.com"
SEND_PATH = "/v3/mail/send"
REFERENCE_ARG = "postroom_reference"
MAX_CATEGORIES = 10
# Headers SendGrid refuses in ``headers`` (it sets them from the other fields).
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)


def _address(value: str) -> dict[str, str]:
    name, address = mailbox(value)
    return {"email": address, "name": name} if name else {"email": address}


class SendGridTransport(JsonMailApi):
    label = "SendGrid"
    send_path = SEND_PATH
    name = "sendgrid"

    def __init__(self, *, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._http = ProviderClient(
            "SendGrid", base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SendGridTransport:
        return cls(
            api_key=opts.required(options, "sendgrid", "api_key"),
            base_url=opts.optional(options, "base_url", DEFAULT_BASE_URL),
            timeout=opts.timeout(options, "sendgrid"),
        )

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        require_body("SendGrid", message)
        custom_args = {**message.metadata, REFERENCE_ARG: message.reference}
        body: dict[str, Any] = {
            # One personalization with the one envelope recipient: each recipient is its own delivery.
            "personalizations": [{"to": [{"email": message.recipient}]}],
            "from": _address(message.from_header),
            "subject": message.subject,
            "content": [],
            "custom_args": custom_args,
        }
        if message.text:  # SendGrid wants text/plain before text/html
            body["content"].append({"type": "text/plain", "value": message.text})
        if message.html:
            body["content"].append({"type": "text/html", "value": message.html})
        if len(message.reply_to) == 1:
            body["reply_to"] = _address(message.reply_to[0])
        elif message.reply_to:
            body["reply_to_list"] = [_address(value) for value in message.reply_to]
        headers = {name: value for name, value in message.headers.items() if name.lower() not in RESERVED_HEADERS}
        headers.setdefault("Message-ID", message.message_id)
        body["headers"] = headers
        if message.tags:
            body["categories"] = list(dict.fromkeys(message.tags))[:MAX_CATEGORIES]
        if message.attachments:
            body["attachments"] = attachment_items(message, id_key="content_id", with_type=True)
        return body
