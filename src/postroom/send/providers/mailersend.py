"""MailerSend ``POST /v1/email`` (JSON); 202 means accepted and ``X-Message-Id`` names the message.

MailerSend reports events by that message id (``data.email.message.id`` in its webhooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postroom.send.providers import options as opts
from postroom.send.providers.http import DEFAULT_TIMEOUT, ProviderClient
from postroom.send.providers.payload import JsonMailApi, attachment_items, mailbox, require_body
from postroom.send.transport import OutboundMessage

DEFAULT_BASE_URL = "https://api.mailersend.com"
SEND_PATH = "/v1/email"
MAX_TAGS = 5
REFERENCE_HEADER = "X-Postroom-Reference"
# MailerSend sets these itself and refuses them as custom headers.
RESERVED_HEADERS = frozenset({"to", "from", "cc", "bcc", "reply-to", "subject", "content-type", "message-id"})


def _address(value: str) -> dict[str, str]:
    name, address = mailbox(value)
    return {"email": address, "name": name} if name else {"email": address}


class MailerSendTransport(JsonMailApi):
    label = "MailerSend"
    send_path = SEND_PATH
    name = "mailersend"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        send_headers: bool = False,
    ) -> None:
        # Custom headers are a feature of MailerSend's paid plans; others answer 422 when they are present.
        self.send_headers = send_headers
        self._http = ProviderClient(
            "MailerSend", base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> MailerSendTransport:
        return cls(
            api_key=opts.required(options, "mailersend", "api_key"),
            base_url=opts.optional(options, "base_url", DEFAULT_BASE_URL),
            timeout=opts.timeout(options, "mailersend"),
            send_headers=opts.optional(options, "send_headers", "false").lower() in {"1", "true", "yes"},
        )

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        require_body("MailerSend", message)
        body: dict[str, Any] = {
            "from": _address(message.from_header),
            "to": [{"email": message.recipient}],
            "subject": message.subject,
        }
        if message.text:
            body["text"] = message.text
        if message.html:
            body["html"] = message.html
        if message.reply_to:
            body["reply_to"] = _address(message.reply_to[0])
        if message.tags:
            body["tags"] = list(dict.fromkeys(message.tags))[:MAX_TAGS]
        if self.send_headers:
            headers = {name: value for name, value in message.headers.items() if name.lower() not in RESERVED_HEADERS}
            headers[REFERENCE_HEADER] = message.reference
            body["headers"] = [{"name": name, "value": value} for name, value in headers.items()]
        if message.attachments:
            body["attachments"] = attachment_items(message, id_key="id", with_type=False)
        return body
