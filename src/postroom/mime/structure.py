"""Running email.parser with bounded policies: policy.default first, compat32 as the fallback."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import Compat32, EmailPolicy
from typing import TYPE_CHECKING, Any

from postroom.mime.encoding import truncate_value
from postroom.mime.headers import find_block_end
from postroom.mime.limits import DEFAULT_LIMITS, ParseLimits
from postroom.mime.tree import Leaf, collect_leaves

__all__ = ["Structure", "parse_structure"]

if TYPE_CHECKING:
    _DefaultBase = EmailPolicy[EmailMessage]
    _Compat32Base = Compat32[Message]
else:  # the email policies are not subscriptable at runtime
    _DefaultBase = EmailPolicy
    _Compat32Base = Compat32

# Content-* values are re-parsed by policy.default on every access, in time that grows faster than
# linearly with runs of encoded words, so they get a much smaller cap than other headers.
_MIME_HEADER_CAP = 8 * 1024
_FETCH_CACHE_SIZE = 4096
_OBSOLETE_COLON = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)


def _cap_for(name: str, cap: int) -> int:
    return min(cap, _MIME_HEADER_CAP) if name[:8].lower() == "content-" else cap


def _capped(policy: _CappedPolicy | _CappedCompat32, name: str, value: str) -> str:
    limit = _cap_for(name, policy.max_value_chars)
    if len(value) <= limit:
        return value
    policy.__dict__["truncated"] = True
    return truncate_value(value, limit)


class _CappedPolicy(_DefaultBase):
    """policy.default that truncates long header values before its quadratic parser sees them."""

    max_value_chars: int = DEFAULT_LIMITS.max_header_bytes
    truncated: bool = False

    def __init__(self, cap: int) -> None:
        super().__init__()
        # Policies refuse ordinary attribute writes.
        object.__setattr__(self, "max_value_chars", cap)
        object.__setattr__(self, "truncated", False)
        object.__setattr__(self, "_fetched", {})

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, _capped(self, name, value)

    def header_fetch_parse(self, name: str, value: str) -> Any:
        # email.message parses Content-Type again for every get_content_type()/get_param() call.
        cache: dict[tuple[str, str], Any] = self.__dict__["_fetched"]
        key = (name, value)
        header = cache.get(key)
        if header is None:
            header = super().header_fetch_parse(name, value)
            if len(cache) < _FETCH_CACHE_SIZE:
                cache[key] = header
        return header


class _CappedCompat32(_Compat32Base):
    max_value_chars: int = DEFAULT_LIMITS.max_header_bytes
    truncated: bool = False

    def __init__(self, cap: int) -> None:
        super().__init__()
        object.__setattr__(self, "max_value_chars", cap)
        object.__setattr__(self, "truncated", False)

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, _capped(self, name, value)


@dataclass(slots=True)
class Structure:
    leaves: list[Leaf]
    flags: list[str]
    linesep: str


def _linesep(raw: bytes) -> str:
    head = raw[:65536]
    if b"\r\n" in head:
        return "\r\n"
    if b"\n" not in head and b"\r" in head:
        return "\r"
    return "\n"


def _repair(raw: bytes, limits: ParseLimits) -> bytes:
    """Rewrite obsolete `Name :` header lines (RFC 5322 obs-optional) that email.parser rejects."""
    end = find_block_end(raw, limits.max_header_block_bytes)
    if end <= 0:
        return raw
    block = raw[:end]
    if _OBSOLETE_COLON.search(block) is None:
        return raw
    return _OBSOLETE_COLON.sub(rb"\1:", block) + raw[end:]


def parse_structure(raw: bytes, limits: ParseLimits) -> Structure | None:
    """Leaves of ``raw`` via policy.default, else compat32 (flagged); None when both fail."""
    raw = _repair(raw, limits)
    linesep = _linesep(raw)
    policies: tuple[_CappedPolicy | _CappedCompat32, ...] = (
        _CappedPolicy(limits.max_header_bytes),
        _CappedCompat32(limits.max_header_bytes),
    )
    for attempt, policy in enumerate(policies):
        flags = ["compat32-fallback"] if attempt else []
        try:
            root: Message = BytesParser(policy=policy).parsebytes(raw)
            leaves = collect_leaves(root, limits, flags)
        except RecursionError:
            # Nesting deep enough to exhaust the parser's stack; compat32 would fail the same way.
            return None
        except Exception:
            continue
        if policy.truncated:
            flags.append("header-too-long")
        return Structure(leaves=leaves, flags=flags, linesep=linesep)
    return None
