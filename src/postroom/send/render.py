"""Turn an accepted email and one of its deliveries into the bytes a transport sends.

The email's parts are compiled once (a stored template version, or the literal
subject/html/text when the request carried variables) and rendered per recipient with
the email's variables overlaid by the recipient's own. Literal content without any
variables is sent exactly as given.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

from postroom.mime.addresses import Address, parse_address_list
from postroom.mime.build import OutgoingMessage, build_message
from postroom.mime.text import html_to_text
from postroom.send.queue import Claimed
from postroom.send.templating import CompiledTemplate, RenderedContent, TemplateRenderer, TemplateSource
from postroom.send.transport import Attachment, OutboundMessage

# raw message -> DKIM-signed raw message
Signer = Callable[[bytes], bytes]
# (html, delivery id, track clicks, track opens) -> html with tracked links and/or an open pixel
HtmlDecorator = Callable[[str, int, bool, bool], str]
# delivery id -> the List-Unsubscribe URLs (https first)
UnsubscribeLinks = Callable[[int], list[str]]


@dataclass
class PreparedEmail:
    id: int
    tenant_id: int
    batch: bool
    sender: str
    sender_address: str
    sender_domain: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    headers: dict[str, str]
    attachments: tuple[Attachment, ...]
    tags: tuple[str, ...]
    metadata: dict[str, str]
    variables: dict[str, Any]
    track_opens: bool
    track_clicks: bool
    list_unsubscribe: bool
    subject: str
    html: str | None
    text: str | None
    compiled: CompiledTemplate | None = None
    signer: Signer | None = None
    # The header mailboxes parsed once per email rather than once per recipient.
    parsed: dict[str, tuple[str | Address, ...]] = field(default_factory=dict)


def _mailboxes(values: list[str]) -> tuple[str | Address, ...]:
    """Header mailboxes parsed once; as written when parsing would change how many there are."""
    found = tuple(a for value in values for a in parse_address_list(value))
    return found if len(found) == len(values) else tuple(values)


def prepare(email: Any, renderer: TemplateRenderer, compiled: CompiledTemplate | None) -> PreparedEmail:
    address = parseaddr(email.from_address)[1]
    if compiled is None and email.template_id is None and (email.variables or email.batch):
        source = TemplateSource(subject=email.subject, html=email.html, text=email.text)
        compiled = renderer.compile(f"email-{email.id}", 1, source)
    parsed = {
        "from": _mailboxes([email.from_address]),
        "to": _mailboxes(email.to),
        "cc": _mailboxes(email.cc),
        "reply_to": _mailboxes(email.reply_to),
    }
    return PreparedEmail(
        parsed=parsed,
        id=email.id,
        tenant_id=email.tenant_id,
        batch=email.batch,
        sender=email.from_address,
        sender_address=address,
        sender_domain=address.rpartition("@")[2].lower(),
        to=list(email.to),
        cc=list(email.cc),
        reply_to=list(email.reply_to),
        headers=dict(email.headers),
        attachments=tuple(
            Attachment(
                filename=a["filename"],
                content_type=a.get("content_type") or "application/octet-stream",
                content=base64.b64decode(a["content_base64"]),
                content_id=a.get("content_id"),
            )
            for a in email.attachments
        ),
        tags=tuple(email.tags),
        metadata={k: str(v) for k, v in email.metadata.items()},
        variables=dict(email.variables),
        track_opens=email.track_opens,
        track_clicks=email.track_clicks,
        list_unsubscribe=email.batch or email.list_unsubscribe,
        subject=email.subject,
        html=email.html,
        text=email.text,
        compiled=compiled,
    )


def _content(prepared: PreparedEmail, variables: Mapping[str, Any]) -> RenderedContent:
    if prepared.compiled is not None:
        return prepared.compiled.render(variables)
    text = prepared.text if prepared.text is not None else html_to_text(prepared.html or "")
    return RenderedContent(subject=prepared.subject, html=prepared.html, text=text)


def return_path(delivery_id: int, domain: str) -> str:
    """VERP: a bounce to this address names the delivery it belongs to."""
    return f"bounces+{delivery_id}@{domain}"


def render(
    prepared: PreparedEmail,
    delivery: Claimed,
    *,
    bounce_domain: str = "",
    decorate_html: HtmlDecorator | None = None,
    unsubscribe: UnsubscribeLinks | None = None,
) -> OutboundMessage:
    variables = {**prepared.variables, **(delivery.variables or {})}
    content = _content(prepared, variables)
    html = content.html
    if html is not None and decorate_html is not None and (prepared.track_clicks or prepared.track_opens):
        html = decorate_html(html, delivery.id, prepared.track_clicks, prepared.track_opens)
    to = prepared.to if not prepared.batch else [delivery.address]
    parsed = prepared.parsed
    to_header = (Address("", delivery.address),) if prepared.batch else parsed["to"]
    unsubscribe_urls = unsubscribe(delivery.id) if unsubscribe is not None and prepared.list_unsubscribe else []
    headers = dict(prepared.headers)
    headers["X-Postroom-Delivery"] = str(delivery.id)
    built = build_message(
        OutgoingMessage(
            sender=parsed["from"][0],
            to=to_header,
            cc=parsed["cc"],
            reply_to=parsed["reply_to"],
            subject=content.subject,
            text=content.text,
            html=html,
            attachments=prepared.attachments,
            headers=headers,
            message_id=f"{delivery.id}.{secrets.token_hex(6)}@{prepared.sender_domain}",
            list_unsubscribe=unsubscribe_urls,
            list_unsubscribe_post=any(u.startswith("https:") for u in unsubscribe_urls),
        )
    )
    raw = built.raw if prepared.signer is None else prepared.signer(built.raw)
    return OutboundMessage(
        reference=str(delivery.id),
        message_id=built.message_id,
        envelope_from=return_path(delivery.id, bounce_domain or prepared.sender_domain),
        recipient=delivery.address,
        from_header=prepared.sender,
        to=tuple(to),
        cc=tuple(prepared.cc),
        reply_to=tuple(prepared.reply_to),
        subject=content.subject,
        raw=raw,
        text=content.text,
        html=html,
        headers=headers,
        attachments=prepared.attachments,
        tags=prepared.tags,
        metadata=prepared.metadata,
    )
