"""Tags that come from the SMTP envelope: plus-addressing (``user+signup@example.com`` -> "signup").

Tags from the ``X-Tags`` header are read by the ingest header parse; only the envelope
is known here.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["plus_tag", "plus_tags"]


def plus_tag(address: str) -> str | None:
    """The sub-address of ``address`` (text after the first "+" of the local part), if any."""
    local, at, _domain = address.rpartition("@")
    if not at:
        local = address
    local = local.strip('"')
    _user, plus, tag = local.partition("+")
    tag = tag.strip()
    return tag if plus and tag else None


def plus_tags(recipients: Iterable[str]) -> tuple[str, ...]:
    """One tag per distinct sub-address among ``recipients``, in first-seen order."""
    found: dict[str, None] = {}
    for address in recipients:
        tag = plus_tag(address)
        if tag is not None:
            found.setdefault(tag, None)
    return tuple(found)
