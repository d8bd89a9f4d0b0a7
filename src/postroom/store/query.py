"""The search language of the inbox, parsed into a plain structure (no SQL here).

    from:alice to:bob@example.com subject:"big news" tag:signup has:attachment
    is:unread before:2026-01-31 after:2026-01-01 "exact phrase" free words -excluded

A term may be negated with a leading ``-`` or ``!``. Unknown ``word:value`` pairs are
searched as free text, so a pasted URL or time still finds something.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

TEXT_FIELDS = {"from": "sender", "to": "recipients", "subject": "subject", "body": "body"}
FIELD_ALIASES = {"cc": "to", "bcc": "to", "rcpt": "to", "text": "body"}
TOKEN = re.compile(r'([-!]?)(?:([A-Za-z][A-Za-z-]*):)?(?:"([^"]*)"?|(\S*))')
WORD = re.compile(r"\w+", re.UNICODE)


class QueryError(ValueError):
    """The query cannot be understood; the message says which part."""


@dataclass(frozen=True)
class TextTerm:
    column: str | None  # None: any column
    words: tuple[str, ...]
    phrase: bool
    prefix: bool = False


@dataclass
class SearchQuery:
    include: list[TextTerm] = field(default_factory=list)
    exclude: list[TextTerm] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    without_tags: list[str] = field(default_factory=list)
    is_read: bool | None = None
    has_attachment: bool | None = None
    before: datetime | None = None
    after: datetime | None = None
    message_id: str | None = None

    @property
    def is_empty(self) -> bool:
        return self == SearchQuery()

    @property
    def needs_bodies(self) -> bool:
        """True when the answer depends on the full parse (body text, attachments)."""
        terms = [*self.include, *self.exclude]
        return self.has_attachment is not None or any(t.column in (None, "body") for t in terms)


def index_words(text: str) -> list[str]:
    """Split text into the lowercase words both search engines index."""
    return [w.lower() for w in WORD.findall(text)]


def parse_query(text: str) -> SearchQuery:
    query = SearchQuery()
    for match in TOKEN.finditer(text.strip()):
        if not match.group(0):
            continue
        negate, key, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        key = (key or "").lower()
        key = FIELD_ALIASES.get(key, key)
        if key and key not in TEXT_FIELDS and key not in _FILTERS:
            value = f"{key}:{value}"  # not an operator: search it as text
            key = ""
        if key in _FILTERS:
            _FILTERS[key](query, value, bool(negate))
            continue
        term = _text_term(TEXT_FIELDS.get(key), value, phrase=quoted is not None)
        if term is not None:
            (query.exclude if negate else query.include).append(term)
    return query


def _text_term(column: str | None, value: str, *, phrase: bool) -> TextTerm | None:
    prefix = not phrase and value.endswith("*")
    words = tuple(index_words(value))
    if not words:
        return None
    return TextTerm(column=column, words=words, phrase=phrase or len(words) > 1, prefix=prefix)


def _tag(query: SearchQuery, value: str, negate: bool) -> None:
    tag = value.strip()
    if not tag:
        raise QueryError("tag: needs a tag name")
    (query.without_tags if negate else query.tags).append(tag)


def _is(query: SearchQuery, value: str, negate: bool) -> None:
    state = value.lower()
    if state not in ("read", "unread"):
        raise QueryError(f"is:{value} is not known; use is:read or is:unread")
    query.is_read = (state == "read") != negate


def _has(query: SearchQuery, value: str, negate: bool) -> None:
    if value.lower() not in ("attachment", "attachments"):
        raise QueryError(f"has:{value} is not known; use has:attachment")
    query.has_attachment = not negate


def _bound(operator: str) -> Callable[[SearchQuery, str, bool], None]:
    opposite = "after" if operator == "before" else "before"

    def apply(query: SearchQuery, value: str, negate: bool) -> None:
        # -before:X means after:X, and the other way round.
        setattr(query, opposite if negate else operator, parse_moment(value, operator))

    return apply


def _message_id(query: SearchQuery, value: str, negate: bool) -> None:
    query.message_id = value.strip().strip("<>")


_FILTERS = {
    "tag": _tag,
    "is": _is,
    "has": _has,
    "before": _bound("before"),
    "after": _bound("after"),
    "message-id": _message_id,
}


def parse_moment(value: str, operator: str) -> datetime:
    """A date (start of that day, UTC), a full ISO timestamp, or a relative age like 2h, 3d."""
    value = value.strip()
    relative = re.fullmatch(r"(\d+)([mhdw])", value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        seconds = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit] * amount
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"{operator}:{value} is not a date (use YYYY-MM-DD, ISO 8601 or 2h/3d)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
