"""Address-list parsing: a regex fast path for the common shapes, email.utils for everything else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from postroom.mime.encoding import decode_rfc2047

__all__ = ["Address", "parse_address_list"]


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: decoded display name and address with the domain lowercased."""

    name: str
    address: str


_ATEXT = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~."
_ADDR = rf"[{_ATEXT}]+@[A-Za-z0-9.\-]+"
# `Name <a@b>`, `"Quoted, Name" <a@b>`, `<a@b>` or a bare `a@b`, followed by a comma or the end.
# Anything else (comments, groups, escapes, 8-bit text, ...) goes through getaddresses.
_NAME = rf'"([^"\\\r\n]*)"|([{_ATEXT}]+(?:[ \t]+[{_ATEXT}]+)*)'
_MAILBOX = re.compile(rf"[ \t]*(?:(?:{_NAME})?[ \t]*<({_ADDR})>|({_ADDR}))[ \t]*(?:,|$)")


def _normalise(name: str, address: str) -> Address:
    local, at, domain = address.rpartition("@")
    if at:
        address = f"{local}@{domain.lower()}"
    if "=?" in name:
        name = decode_rfc2047(name)
    return Address(name=name.replace("\x00", ""), address=address.replace("\x00", ""))


def _fast(value: str) -> list[Address] | None:
    found: list[Address] = []
    pos = 0
    end = len(value)
    while pos < end:
        match = _MAILBOX.match(value, pos)
        if match is None or match.end() == pos:
            return None
        quoted, phrase, angle, bare = match.groups()
        if bare is not None:
            found.append(_normalise("", bare))
        else:
            name = quoted if quoted is not None else " ".join(phrase.split()) if phrase else ""
            found.append(_normalise(name, angle))
        pos = match.end()
    return found


def parse_address_list(value: str) -> tuple[Address, ...]:
    """Parse an address-list header value; empty entries and group names are dropped. Never raises."""
    value = value.strip()
    if not value:
        return ()
    fast = _fast(value)
    if fast is not None:
        return tuple(fast)
    try:
        pairs = getaddresses([value])
    except Exception:
        return ()
    return tuple(_normalise(name, address) for name, address in pairs if address and address.strip())
