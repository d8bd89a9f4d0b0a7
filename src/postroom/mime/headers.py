"""Fast header-level parse for the ingest hot path: looks only at the bytes before the first blank line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from postroom.mime.addresses import Address, SlowPathBudget, parse_address_list
from postroom.mime.encoding import decode_rfc2047, truncate_value, unsurrogate
from postroom.mime.limits import DEFAULT_LIMITS, ParseLimits

__all__ = [
    "HeaderBlock",
    "HeaderSummary",
    "charset_hint",
    "find_block_end",
    "parse_headers",
    "split_header_block",
    "summarise",
]

# Blank-line patterns for CRLF, LF, lone CR and an LF line followed by a CRLF blank line.
_SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r", b"\n\r\n")
# A field name is printable ASCII without ":"; obsolete syntax allows blanks before the colon.
# The value runs on over folded continuation lines.
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)\n?")
_FOLD = re.compile(r"\n[ \t]*")
_RFC5322_DATE = re.compile(
    r"(?:[A-Za-z]{3},[ \t]*)?(\d{1,2})[ \t]+([A-Za-z]{3})[ \t]+(\d{4})[ \t]+(\d{2}):(\d{2})(?::(\d{2}))?"
    r"[ \t]+([+-])(\d{2})(\d{2})[ \t]*(?:\([^()]*\)[ \t]*)?$"
)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_ZONES: dict[int, timezone] = {}
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:+-]{1,40})""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HeaderSummary:
    """What ingest needs from the top-level header block.

    ``message_id`` is without angle brackets; ``subject`` is RFC 2047 decoded ("" when absent);
    ``sender`` is the first From address; ``date`` is timezone-aware (UTC when the header gives
    no zone) or None; ``tags`` come from comma-separated ``X-Tags`` headers, deduplicated in order;
    ``flags`` name the problems seen, e.g. "malformed-headers" or "header-too-long".
    """

    message_id: str | None
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    tags: tuple[str, ...]
    flags: tuple[str, ...]


@dataclass(slots=True)
class HeaderBlock:
    """Unfolded (name, raw value) fields of a header block plus the problems seen splitting it."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


def find_block_end(raw: bytes, limit: int) -> int:
    """Offset where the header block ends (before the blank line), or -1 when there is no blank line."""
    if raw[:1] in (b"\n", b"\r"):
        return 0
    best = -1
    search_end = min(len(raw), limit)
    for sep in _SEPARATORS:
        found = raw.find(sep, 0, search_end if best < 0 else best + len(sep))
        if found >= 0 and (best < 0 or found < best):
            best = found
    return best


def _decode_block(block: bytes, out: HeaderBlock) -> str:
    try:
        return block.decode("ascii")
    except UnicodeDecodeError:
        out.flag("8bit-headers")
    # Bytes that are not UTF-8 stay surrogate-escaped until the value is decoded, so that raw
    # bytes inside encoded words survive and a charset hint can be applied to the rest.
    return block.decode("utf-8", "surrogateescape")


def split_header_block(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> HeaderBlock:
    """Split and unfold the top-level header block. Never raises on bytes input."""
    out = HeaderBlock()
    if not raw:
        return out
    end = find_block_end(raw, limits.max_header_block_bytes)
    if end < 0:
        if len(raw) > limits.max_header_block_bytes:
            out.flag("header-too-long")
            end = limits.max_header_block_bytes
        else:
            out.flag("no-header-body-separator")
            end = len(raw)
    block = raw[:end]
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = _decode_block(block, out)
    if "\x00" in text:
        text = text.replace("\x00", "")
    pos = 0
    if text.startswith("From "):
        pos = _skip_line(text, 0)  # mbox envelope line
    cap = limits.max_header_bytes
    max_headers = limits.max_headers
    fields = out.fields
    for match in _FIELD.finditer(text, pos):
        if match.start() != pos:
            # A line that is not a field: like email.parser, a bad line starts the body, except
            # that stray continuation lines before the first field are skipped.
            gap = text[pos : match.start()]
            if fields or not all(line[:1] in (" ", "\t") for line in gap.splitlines()):
                out.flag("malformed-headers")
                return out
            out.flag("malformed-headers")
        if len(fields) >= max_headers:
            out.flag("too-many-headers")
            return out
        pos = match.end()
        value = match.group(2)
        if len(value) > cap:
            out.flag("header-too-long")
            value = truncate_value(value, cap + 4096)
        if "\n" in value:
            value = _FOLD.sub(" ", value)
        value = value.strip()
        if len(value) > cap:
            out.flag("header-too-long")
            value = truncate_value(value, cap)
        fields.append((match.group(1), value))
    if pos < len(text) and text[pos:].strip():
        out.flag("malformed-headers")
    return out


def _skip_line(text: str, pos: int) -> int:
    newline = text.find("\n", pos)
    return len(text) if newline < 0 else newline + 1


def _message_id(value: str) -> str | None:
    start = value.find("<")
    if start >= 0:
        stop = value.find(">", start + 1)
        if stop > start + 1:
            return value[start + 1 : stop].strip() or None
    cleaned = value.strip().strip("<>").strip()
    return cleaned.split()[0] if cleaned else None


def _zone(sign: str, hours: str, minutes: str) -> timezone:
    offset = int(hours) * 60 + int(minutes)
    if sign == "-":
        offset = -offset
    if not offset:
        return UTC
    zone = _ZONES.get(offset)
    if zone is None:
        zone = timezone(timedelta(minutes=offset))
        if len(_ZONES) < 256:
            _ZONES[offset] = zone
    return zone


def _date(value: str) -> datetime | None:
    match = _RFC5322_DATE.match(value)
    if match is not None:
        # The canonical form, parsed without email.utils' general (and slower) tokenizer.
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
        month_number = _MONTHS.get(month.lower())
        if month_number is not None:
            try:
                return datetime(
                    int(year),
                    month_number,
                    int(day),
                    int(hour),
                    int(minute),
                    min(int(second or 0), 59),  # a leap second is valid in RFC 5322
                    tzinfo=_zone(sign, zone_hours, zone_minutes),
                )
            except ValueError:
                return None
    try:
        parsed = parsedate_to_datetime(value)
    except Exception:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def charset_hint(fields: list[tuple[str, str]]) -> str | None:
    """The top-level Content-Type charset: the best guess for raw 8-bit header bytes that are not UTF-8."""
    for name, value in fields:
        if name.lower() == "content-type":
            match = _CHARSET_PARAM.search(value)
            return match.group(1) if match else None
    return None


def summarise(fields: list[tuple[str, str]], flags: list[str], limits: ParseLimits = DEFAULT_LIMITS) -> HeaderSummary:
    """Build the summary from unfolded fields; shared with the full parser."""
    found: dict[str, list[str]] = {}
    for name, value in fields:
        key = name.lower()
        if key in _WANTED:
            found.setdefault(key, []).append(value)
    charset = charset_hint(fields) if "8bit-headers" in flags else None
    budget = SlowPathBudget(limits.max_address_bytes)
    scan_left = limits.max_address_list_bytes

    def addresses(key: str) -> tuple[Address, ...]:
        nonlocal scan_left
        found_addresses: list[Address] = []
        for value in found.get(key, ()):
            if len(value) > scan_left:
                budget.exhausted = True
                break
            scan_left -= len(value)
            found_addresses.extend(parse_address_list(value, charset, budget))
        return tuple(found_addresses)

    subject = decode_rfc2047(found["subject"][0], charset).strip() if "subject" in found else ""
    senders = addresses("from")
    date = None
    if "date" in found:
        date = _date(found["date"][0])
        if date is None:
            flags.append("invalid-date")
    tags: dict[str, None] = {}
    for value in found.get("x-tags", ()):
        for tag in decode_rfc2047(value, charset).split(","):
            tag = tag.strip()
            if tag:
                tags.setdefault(tag, None)
    message_ids = found.get("message-id")
    sender = senders[0] if senders else None
    to, cc, bcc, reply_to = addresses("to"), addresses("cc"), addresses("bcc"), addresses("reply-to")
    if budget.exhausted:
        flags.append("header-too-long")
    return HeaderSummary(
        message_id=_message_id(unsurrogate(message_ids[0])) if message_ids else None,
        subject=subject,
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        date=date,
        tags=tuple(tags),
        flags=tuple(dict.fromkeys(flags)),
    )


_WANTED = frozenset({"message-id", "subject", "from", "to", "cc", "bcc", "reply-to", "date", "x-tags"})

_EMPTY = HeaderSummary(None, "", None, (), (), (), (), None, (), ("parse-error",))


def parse_headers(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> HeaderSummary:
    """Summarise the header block of ``raw``. Never raises; problems are reported in ``flags``."""
    try:
        block = split_header_block(raw, limits)
        return summarise(block.fields, list(block.flags), limits)
    except Exception:
        return _EMPTY
