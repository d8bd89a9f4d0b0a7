"""Pieces of the JSON bodies that SendGrid and MailerSend take instead of raw MIME."""

from __future__ import annotations

import base64
from email.utils import parseaddr
from typing import Any

from postroom.send.providers.http import ProviderClient, raise_for_answer
from postroom.send.transport import Attachment, DeliveryBounced, DeliveryResult, OutboundMessage


def mailbox(value: str) -> tuple[str, str]:
    """(display name, address) of one header mailbox such as ``"Shop" <shop@example.com>``."""
    name, address = parseaddr(value)
    return name, address or value.strip()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def disposition(attachment: Attachment) -> str:
    return "inline" if attachment.content_id else "attachment"


def content_id(attachment: Attachment) -> str | None:
    return attachment.content_id.strip("<>") if attachment.content_id else None


def require_body(provider: str, message: OutboundMessage) -> None:
    if not message.text and not message.html:
        raise DeliveryBounced(f"{provider} needs a text or HTML body and the message has neither")


def attachment_items(message: OutboundMessage, *, id_key: str, with_type: bool) -> list[dict[str, Any]]:
    """The message's attachments as JSON objects; ``id_key`` names the field of an inline part's id."""
    items = []
    for attachment in message.attachments:
        item: dict[str, Any] = {"content": b64(attachment.content)}
        if with_type:
            item["type"] = attachment.content_type
        item["filename"] = attachment.filename
        item["disposition"] = disposition(attachment)
        cid = content_id(attachment)
        if cid:
            item[id_key] = cid
        items.append(item)
    return items


class JsonMailApi:
    """What SendGrid and MailerSend share: POST a JSON body, 202 with ``X-Message-Id``."""

    label = ""
    send_path = ""
    _http: ProviderClient

    def request_body(self, message: OutboundMessage) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        response = await self._http.post(self.send_path, json=self.request_body(message))
        raise_for_answer(self.label, response)
        message_id = response.headers.get("X-Message-Id") or None
        return DeliveryResult(response=f"{response.status_code} Accepted", provider_message_id=message_id)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def close(self) -> None:
        await self._http.close()
