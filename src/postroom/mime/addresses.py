"""Address-list parsing: a regex fast path for the common shapes, email.utils for everything else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from postroom.mime.encoding import decode_rfc2047, unsurrogate

__all__ = ["Address", "SlowPathBudget", "parse_address_list"]


@dataclass(slots=True)
class SlowPathBudget:
    """Characters of address-header text that may still go to email.utils.getaddresses."""

    remaining: int
    exhausted: bool = False


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: decoded display name and address with the domain lowercased."""

    name: str
    address: str


_ATEXT = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~."
_ADDR = rf"[{_ATEXT}]+@[A-Za-z0-9.\-]+"
# Display-name words may also hold UTF-8 (SMTPUTF8) or surrogate-escaped 8-bit text.
_WORD = rf"[{_ATEXT}\u0080-\U0010ffff]+"
# `Name <a@b>`, `"Quoted, Name" <a@b>`, `<a@b>` or a bare `a@b`, followed by a comma or the end.
# Anything else (comments, groups, escapes, ...) goes through getaddresses, which is about a
# hundred times slower, so callers can give it a budget.
_NAME = rf'"([^"\\\r\n]*)"|({_WORD}(?:[ \t]+{_WORD})*)'
_COMMENT = r"\(([^()\\\r\n]*)\)[ \t]*"
# A trailing comment is ignored after `<a@b>` and is the display name after a bare `a@b`.
_MAILBOX = re.compile(
    rf"[ \t]*(?:(?:{_NAME})?[ \t]*<({_ADDR})>[ \t]*(?:{_COMMENT})?|({_ADDR})[ \t]*(?:{_COMMENT})?)(?:,|$)"
)


# Quoted strings, comments and angle addresses are single tokens, so separators inside them do
# not split the list.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^<>]*>?|[,;:]|[^",;:(<]+', re.DOTALL)
_MAX_MAILBOX = 2048
_CALL_COST = 64  # budget charged per getaddresses call on top of its input length


def _normalise(name: str, address: str, charset: str | None = None) -> Address:
    local, at, domain = address.rpartition("@")
    if at:
        lowered = domain.lower()
        if lowered != domain:
            address = f"{local}@{lowered}"
    return Address(name=decode_rfc2047(name, charset), address=unsurrogate(address, charset))


def _fast(value: str, charset: str | None) -> list[Address] | None:
    found: list[Address] = []
    pos = 0
    end = len(value)
    while pos < end:
        match = _MAILBOX.match(value, pos)
        if match is None or match.end() == pos:
            return None
        quoted, phrase, angle, _ignored, bare, comment = match.groups()
        if bare is not None:
            found.append(_normalise(comment or "", bare, charset))
        else:
            name = quoted if quoted is not None else " ".join(phrase.split()) if phrase else ""
            found.append(_normalise(name, angle, charset))
        pos = match.end()
    return found


def _mailboxes(value: str) -> list[str]:
    """Split an address list at top-level commas and semicolons, dropping group display names."""
    chunks: list[str] = []
    current: list[str] = []
    for token in _TOKEN.findall(value):
        if token in (",", ";"):
            chunks.append("".join(current))
            current = []
        elif token == ":":
            current = []
        else:
            current.append(token)
    chunks.append("".join(current))
    return [chunk for chunk in (c.strip() for c in chunks) if chunk]


def parse_address_list(
    value: str, charset: str | None = None, budget: SlowPathBudget | None = None
) -> tuple[Address, ...]:
    """Parse an address-list header value; empty entries and group names are dropped. Never raises.

    ``charset`` is a guess for raw (surrogate-escaped) 8-bit bytes that are not UTF-8. Mailboxes
    the fast path cannot read go to email.utils.getaddresses one at a time, within ``budget``;
    what does not fit (or is longer than any real mailbox) is dropped and the budget marked.
    """
    value = value.strip()
    if not value:
        return ()
    fast = _fast(value, charset)
    if fast is not None:
        return tuple(fast)
    found: list[Address] = []
    for chunk in _mailboxes(value):
        quick = _fast(chunk, charset)
        if quick is not None:
            found.extend(quick)
            continue
        if budget is not None:
            cost = len(chunk) + _CALL_COST
            if cost > budget.remaining or len(chunk) > _MAX_MAILBOX:
                budget.exhausted = True
                continue
            budget.remaining -= cost
        try:
            pairs = getaddresses([chunk])
        except Exception:
            continue
        found.extend(_normalise(name, address, charset) for name, address in pairs if address and address.strip())
    return tuple(found)
