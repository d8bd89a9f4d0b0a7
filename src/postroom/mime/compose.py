"""Build an RFC 5322 message from structured fields (for putting mail into the inbox over HTTP)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


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


def _no_newlines(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ComposeError(f"{name} must not contain line breaks")
    return value


def compose(draft: Draft, *, domain: str = "postroom.local") -> bytes:
    message = EmailMessage()
    message["From"] = _no_newlines("from", draft.sender)
    message["To"] = ", ".join(_no_newlines("to", a) for a in draft.to)
    if draft.cc:
        message["Cc"] = ", ".join(_no_newlines("cc", a) for a in draft.cc)
    if draft.reply_to:
        message["Reply-To"] = _no_newlines("reply_to", draft.reply_to)
    message["Subject"] = _no_newlines("subject", draft.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in draft.headers.items():
        if not name or any(c in name for c in ":\r\n ") or not name.isascii():
            raise ComposeError(f"headers: {name!r} is not a valid header name")
        message[name] = _no_newlines(f"headers.{name}", value)
    message.set_content(draft.text or " ")
    if draft.html:
        message.add_alternative(draft.html, subtype="html")
    for index, attachment in enumerate(draft.attachments):
        try:
            data = base64.b64decode(attachment.content_base64, validate=True)
        except ValueError as exc:
            raise ComposeError(f"attachments[{index}].content_base64 is not base64") from exc
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=_no_newlines(f"attachments[{index}].filename", attachment.filename),
            cid=f"<{attachment.content_id}>" if attachment.content_id else None,
        )
    return message.as_bytes()
