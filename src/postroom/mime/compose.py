"""Build an RFC 5322 message from structured fields (for putting mail into the inbox over HTTP)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

from postroom.mime.build import MessageBuildError, OutgoingAttachment, OutgoingMessage, build_message


class ComposeError(ValueError):
    """A field would produce a broken or dangerous message; the text names the field."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_base64: str
    content_type: str = "application/octet-stream"
    content_id: str | None = None


@dataclass(frozen=True)
class Draft:
    sender: str
    to: list[str]
    subject: str = ""
    text: str = ""
    html: str = ""
    cc: list[str] = field(default_factory=list)
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)


def compose(draft: Draft, *, domain: str = "postroom.local") -> bytes:
    """Serialise ``draft`` with ``postroom.mime.build``; bad fields raise ``ComposeError``."""
    attachments = []
    for index, attachment in enumerate(draft.attachments):
        try:
            data = base64.b64decode(attachment.content_base64, validate=True)
        except ValueError as exc:
            raise ComposeError(f"attachments[{index}].content_base64 is not base64") from exc
        attachments.append(
            OutgoingAttachment(attachment.filename, attachment.content_type, data, attachment.content_id)
        )
    try:
        return build_message(
            OutgoingMessage(
                sender=draft.sender,
                to=draft.to,
                cc=draft.cc,
                reply_to=[draft.reply_to] if draft.reply_to else [],
                subject=draft.subject,
                text=draft.text if draft.text or not draft.html else None,
                html=draft.html or None,
                headers=draft.headers,
                attachments=attachments,
                message_id=f"<{uuid.uuid4().hex}@{domain}>",
            )
        ).raw
    except MessageBuildError as exc:
        raise ComposeError(str(exc)) from exc
