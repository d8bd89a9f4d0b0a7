"""Read bounces: RFC 3464 delivery status notifications, and common non-standard ones as a fallback.

How to call it::

    report = parse_bounce(raw)  # None when the message is not a bounce or delay notice
    if report is not None:
        report.original_message_id  # "<...>" of the message that bounced, when returned
        for rcpt in report.recipients:
            rcpt.recipient, rcpt.action, rcpt.status, rcpt.kind  # "a@b", "failed", "5.1.1", "hard"

``kind`` is ``hard`` for a 5.x.x status (or a failure without a status), ``soft`` for 4.x.x or
a delay, ``none`` for delivered/relayed/expanded reports. ``report.heuristic`` is True when the
result was read from a human-readable text (qmail, Postfix/Exim/Sendmail plain-text bounces)
instead of a machine-readable ``message/delivery-status`` part: treat it with less trust.
Never raises on malformed input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

__all__ = ["BounceReport", "RecipientStatus", "parse_bounce", "parse_delivery_status"]

_ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")  # not inside an IP address
_REPLY_CODE = re.compile(r"(?<![\d.])([45])\d\d(?:[ -]|$)")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?")
_MESSAGE_ID = re.compile(r"^message-id:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
_MAX_TEXT = 256_000
_MAX_RECIPIENTS = 1_000

# Plain-text bounces: a recipient line ("<a@b>:" for qmail and Postfix, an indented address for
# Exim and others) starts a block that runs to the next recipient or the returned message.
_RECIPIENT_LINE = re.compile(
    r"^(?:<(?P<angle>[^<>\s]+@[^<>\s]+)>(?::[ \t].*|:)?|[ \t]+(?P<indented>[^\s<>()@,;:]+@[^\s<>()@,;:]+)(?:[ \t].*)?|"
    r"(?P<bare>[^\s<>()@,;:]+@[^\s<>()@,;:]+):|(?P<lead>[^\s<>()@,;:\"]+@[^\s<>()@,;:]+)[ \t]+\S.*)[ \t]*$",
    re.MULTILINE,
)
_RETURNED = re.compile(
    r"^(?:-+ ?(?:Below this line is a copy of the message|This is a copy of the message|Original message"
    r"|Returned message|The original message)|Content-Type: message/rfc822|.*original message follows)",
    re.IGNORECASE | re.MULTILINE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification|failure|has failed)|failure notice|returned mail"
    r"|mail delivery (?:failed|system)|delivery (?:delayed|problem)|could not be delivered|warning: could not send",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)", re.IGNORECASE)
_DELAY_TEXT = re.compile(r"delayed|will (?:keep|continue) trying|not yet been delivered|temporar", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    final_recipient: str | None
    original_recipient: str | None
    action: str  # failed, delayed, delivered, relayed or expanded
    status: str | None  # e.g. "5.1.1"
    kind: str  # "hard", "soft" or "none"
    diagnostic_code: str | None = None  # e.g. "550 5.1.1 User unknown" (the type prefix removed)
    remote_mta: str | None = None

    @property
    def recipient(self) -> str | None:
        return self.final_recipient or self.original_recipient


@dataclass(frozen=True, slots=True)
class BounceReport:
    recipients: tuple[RecipientStatus, ...]
    original_message_id: str | None
    reporting_mta: str | None = None
    heuristic: bool = False


def _kind(action: str, status: str | None) -> str:
    if action in ("delivered", "relayed", "expanded"):
        return "none"
    if status is not None:
        return "hard" if status.startswith("5") else "soft" if status.startswith("4") else "none"
    return "soft" if action == "delayed" else "hard"


def _typed_value(value: str | None) -> str | None:
    """``rfc822; a@b`` -> ``a@b``; unfolded and stripped."""
    if value is None:
        return None
    value = " ".join(str(value).split())
    kind, sep, rest = value.partition(";")
    if sep and kind.strip() and " " not in kind.strip():
        value = rest.strip()
    return value or None


def _address(value: str | None) -> str | None:
    value = _typed_value(value)
    if value is None:
        return None
    return value.strip("<>").strip() or None


def _status(value: str | None, *fallbacks: str | None) -> str | None:
    for text in (value, *fallbacks):
        if text:
            match = _STATUS.search(text)
            if match:
                return ".".join(match.groups())
    return None


def _payload_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload[:_MAX_TEXT].decode(charset, "replace")
        except LookupError:
            return payload[:_MAX_TEXT].decode("utf-8", "replace")
    raw = part.get_payload()
    return raw[:_MAX_TEXT] if isinstance(raw, str) else ""


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part (per-message block first)."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _split_blocks(_payload_text(part))
    blocks = [block for block in payload if isinstance(block, Message)]
    leftovers = [block.get_payload() for block in blocks]
    if blocks and not any(isinstance(text, str) and text.strip() for text in leftovers):
        return blocks
    # A block with a body means the blank lines were not where the parser expected: re-split.
    return _split_blocks("\n\n".join(f"{_render_block(b)}\n\n{b.get_payload()}" for b in blocks))


def _render_block(block: Message) -> str:
    return "\n".join(f"{name}: {value}" for name, value in block.items())


def _split_blocks(text: str) -> list[Message]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks = [c for c in re.split(r"\n[ \t]*\n", text) if c.strip()]
    parser = HeaderParser(policy=compat32)
    return [parser.parsestr(chunk.strip("\n") + "\n\n") for chunk in chunks]


def _original_message_id(message: Message) -> str | None:
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global", "message/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found = payload[0].get("Message-ID")
                if found:
                    return " ".join(str(found).split())
            text = _payload_text(part)
        elif content_type in ("text/rfc822-headers", "text/global-headers"):
            text = _payload_text(part)
        else:
            continue
        match = _MESSAGE_ID.search(text)
        if match:
            return match.group(1)
    return None


def _from_status_part(message: Message, status_part: Message) -> BounceReport | None:
    blocks = _status_blocks(status_part)
    if not blocks:
        return None
    per_message = blocks[0]
    reporting = _typed_value(per_message.get("Reporting-MTA"))
    recipients: list[RecipientStatus] = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        final = _address(block.get("Final-Recipient"))
        original = _address(block.get("Original-Recipient"))
        if final is None and original is None:
            continue
        action = (_typed_value(block.get("Action")) or "").lower().split(" ")[0]
        diagnostic = _typed_value(block.get("Diagnostic-Code"))
        status = _status(block.get("Status"), diagnostic)
        if action not in _ACTIONS:
            action = "delayed" if status and status.startswith("4") else "failed"
        recipients.append(
            RecipientStatus(
                final_recipient=final,
                original_recipient=original,
                action=action,
                status=status,
                kind=_kind(action, status),
                diagnostic_code=diagnostic,
                remote_mta=_typed_value(block.get("Remote-MTA")),
            )
        )
        if len(recipients) >= _MAX_RECIPIENTS:
            break
    if not recipients:
        return None
    return BounceReport(tuple(recipients), _original_message_id(message), reporting)


def parse_delivery_status(message: Message) -> BounceReport | None:
    """Read the machine-readable part of an RFC 3464 report; None when there is none."""
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            return _from_status_part(message, part)
    return None


def _body_text(message: Message) -> str:
    texts: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "text/plain" and part.get("Content-Disposition", "").find("attachment") < 0:
            texts.append(_payload_text(part))
            if part is not message:
                break
        elif part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            break
    if not texts and isinstance(message.get_payload(), str):
        texts.append(_payload_text(message))  # a multipart whose boundaries never appear
    return "\n".join(texts).replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_bounce(message: Message, text: str) -> bool:
    subject = str(message.get("Subject", ""))
    sender = str(message.get("From", ""))
    return bool(_BOUNCE_SUBJECT.search(subject) or _BOUNCE_SENDER.search(sender)) or text.startswith(
        "Hi. This is the qmail-send program"
    )


def _pasted_report(message: Message, full: str) -> BounceReport | None:
    """Delivery-status blocks pasted into the text (broken MIME, or a forwarded report)."""
    blocks = [b for b in _split_blocks(full) if b.get("Final-Recipient") or b.get("Reporting-MTA")]
    if not any(b.get("Final-Recipient") for b in blocks):
        return None
    pseudo = Message()
    pseudo.set_payload("\n\n".join(_render_block(b) for b in blocks))
    found = _from_status_part(message, pseudo)
    if found is None:
        return None
    message_id = found.original_message_id or _message_id_after(full, _RETURNED.search(full))
    return BounceReport(found.recipients, message_id, found.reporting_mta, heuristic=True)


def _text_recipients(text: str, delayed: bool) -> list[RecipientStatus]:
    """One result per recipient line; its block runs to the next recipient line."""
    matches = list(_RECIPIENT_LINE.finditer(text))
    recipients: list[RecipientStatus] = []
    seen: set[str] = set()
    for index, match in enumerate(matches):
        groups = ("angle", "indented", "bare", "lead")
        address = next((match.group(g) for g in groups if match.group(g)), "").strip(".")
        if not _ADDRESS.fullmatch(address) or address.lower() in seen:
            continue
        seen.add(address.lower())
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        block = text[match.start() + match.group(0).find(address) + len(address) : end].strip(" \t\n>:")
        status = _status(block)
        code = _REPLY_CODE.search(block)
        if status is None and code is not None:
            status = f"{code.group(1)}.0.0"
        if status is None and delayed:
            status = "4.0.0"
        action = "delayed" if (status or "").startswith("4") and delayed else "failed"
        recipients.append(
            RecipientStatus(
                final_recipient=address,
                original_recipient=None,
                action=action,
                status=status,
                kind=_kind(action, status),
                diagnostic_code=" ".join(block.split())[:1000] or None,
            )
        )
        if len(recipients) >= _MAX_RECIPIENTS:
            break
    return recipients


def _heuristic(message: Message) -> BounceReport | None:
    full = _body_text(message)[:_MAX_TEXT]
    if not _looks_like_bounce(message, full):
        return None
    if "final-recipient:" in full.lower():
        pasted = _pasted_report(message, full)
        if pasted is not None:
            return pasted
    returned = _RETURNED.search(full)
    text = full[: returned.start()] if returned else full
    delayed = bool(_DELAY_TEXT.search(str(message.get("Subject", "")))) or "will keep trying" in text
    recipients = _text_recipients(text, delayed)
    if not recipients:
        return None
    message_id = _message_id_after(full, returned) or _original_message_id(message)
    return BounceReport(tuple(recipients), message_id, None, heuristic=True)


def _message_id_after(text: str, returned: re.Match[str] | None) -> str | None:
    if returned is None:
        return None
    match = _MESSAGE_ID.search(text, returned.start())
    return match.group(1) if match else None


def parse_bounce(raw: bytes) -> BounceReport | None:
    """Per-recipient results of a bounce or delay notice; None when ``raw`` is not one."""
    try:
        message = message_from_bytes(raw, policy=compat32)
        report = parse_delivery_status(message)
        if report is not None:
            return report
        return _heuristic(message)
    except Exception:
        return None
