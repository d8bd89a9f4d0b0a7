"""Signed tracking links: open pixels, click redirects and one-click unsubscribe (RFC 8058).

How to call it::

    tracker = Tracker([secret_key], "https://t.example.com")  # first key signs, all keys verify
    html = tracker.rewrite_html(html, reference="rcpt_123")  # links -> click URLs, + open pixel
    headers = tracker.unsubscribe_headers("rcpt_123", mailto="unsubscribe@example.com")
    # {"List-Unsubscribe": "<https://t.example.com/t/u/TOKEN>, <mailto:...>",
    #  "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}

    # in the HTTP routes (see ``OPEN_PATH`` ...):
    tracker.verify(token, TrackingKind.OPEN).reference  # who opened
    target = tracker.resolve_click(token, request_url_param)  # raises InvalidToken unless signed
    tracker.verify(token, TrackingKind.UNSUBSCRIBE).reference  # who unsubscribes

A token is URL-safe base64 of (version, kind, SHA-256 prefix of the target URL for clicks, the
recipient reference) followed by a 128-bit HMAC-SHA256 tag. It does not expire; it cannot be
altered, moved to another kind, or used to redirect anywhere but the URL it was made for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlsplit

__all__ = [
    "CLICK_PATH",
    "OPEN_PATH",
    "UNSUBSCRIBE_PATH",
    "InvalidToken",
    "Tracker",
    "TrackingKind",
    "TrackingToken",
]

OPEN_PATH = "/t/o/{token}"
CLICK_PATH = "/t/c/{token}"  # the target travels in ?url= and must match the hash in the token
UNSUBSCRIBE_PATH = "/t/u/{token}"
NOTRACK_ATTRIBUTE = "data-postroom-notrack"

_VERSION = 1
_TAG_BYTES = 16
_URL_HASH_BYTES = 16
_MAX_REFERENCE = 200
_CONTEXT = b"postroom-tracking\x00"
_ANCHOR = re.compile(r"""<a\b(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)
_HREF = re.compile(r"""(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""", re.IGNORECASE)
_NOTRACK = re.compile(rf"""\s{NOTRACK_ATTRIBUTE}(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class TrackingKind(StrEnum):
    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"


class InvalidToken(ValueError):
    """The token was not made with our key, was altered, or does not fit its use."""


@dataclass(frozen=True, slots=True)
class TrackingToken:
    kind: TrackingKind
    reference: str
    url_hash: bytes | None  # for clicks: the first 16 bytes of SHA-256 of the target URL


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii() or len(text) > 1024:
        raise InvalidToken("malformed token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise InvalidToken("malformed token") from None


def _url_hash(url: str) -> bytes:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).digest()[:_URL_HASH_BYTES]


def _trackable(url: str) -> bool:
    """Only absolute http(s) links are rewritten; mailto:, tel:, anchors and placeholders are not."""
    lowered = url.strip().lower()
    return lowered.startswith(("http://", "https://")) and bool(urlsplit(url.strip()).netloc)


class Tracker:
    """Makes and checks tracking tokens and URLs. Immutable and thread-safe."""

    def __init__(self, keys: Sequence[bytes], base_url: str, *, allow_http: bool = False) -> None:
        if not keys or any(len(key) < 16 for key in keys):
            raise ValueError("tracking keys must be at least 16 bytes")
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"tracking base URL {base_url!r} must be an absolute http(s) URL without query")
        if parts.scheme == "http" and not allow_http:
            raise ValueError("tracking links must use https (pass allow_http=True for local development)")
        self._keys = tuple(keys)
        self.base_url = base_url.rstrip("/")

    # --- tokens ---------------------------------------------------------------------------------

    def _tag(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, _CONTEXT + payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def token(self, kind: TrackingKind, reference: str, url: str | None = None) -> str:
        """A signed token; ``url`` is required for clicks and refused for the other kinds."""
        encoded = reference.encode("utf-8")
        if not reference or len(encoded) > _MAX_REFERENCE:
            raise ValueError(f"reference must be 1 to {_MAX_REFERENCE} bytes")
        if (kind is TrackingKind.CLICK) != (url is not None):
            raise ValueError("a click token needs the target URL; other tokens take none")
        url_hash = _url_hash(url) if url is not None else b""
        payload = bytes([_VERSION]) + kind.value.encode("ascii") + url_hash + encoded
        return _b64(payload + self._tag(self._keys[0], payload))

    def verify(self, token: str, kind: TrackingKind | None = None) -> TrackingToken:
        """The token's content, when it carries a valid tag (and is of ``kind`` when given)."""
        data = _unb64(token)
        if len(data) < 2 + _TAG_BYTES + 1:
            raise InvalidToken("malformed token")
        payload, tag = data[:-_TAG_BYTES], data[-_TAG_BYTES:]
        if not any(hmac.compare_digest(tag, self._tag(key, payload)) for key in self._keys):
            raise InvalidToken("bad signature")
        if payload[0] != _VERSION:
            raise InvalidToken("unknown token version")
        try:
            found = TrackingKind(chr(payload[1]))
        except ValueError:
            raise InvalidToken("unknown token kind") from None
        if kind is not None and found is not kind:
            raise InvalidToken(f"expected a {kind.name.lower()} token")
        rest = payload[2:]
        url_hash = None
        if found is TrackingKind.CLICK:
            url_hash, rest = rest[:_URL_HASH_BYTES], rest[_URL_HASH_BYTES:]
        try:
            reference = rest.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidToken("malformed token") from None
        if not reference:
            raise InvalidToken("malformed token")
        return TrackingToken(found, reference, url_hash)

    def resolve_click(self, token: str, url: str) -> TrackingToken:
        """Check that ``url`` is exactly the URL the click token was signed for; then redirect to it."""
        verified = self.verify(token, TrackingKind.CLICK)
        if verified.url_hash is None or not hmac.compare_digest(verified.url_hash, _url_hash(url)):
            raise InvalidToken("the URL is not the one this link was made for")
        if not _trackable(url):
            raise InvalidToken("only http(s) URLs are redirected")
        return verified

    # --- URLs -----------------------------------------------------------------------------------

    def open_url(self, reference: str) -> str:
        return self.base_url + OPEN_PATH.format(token=self.token(TrackingKind.OPEN, reference))

    def click_url(self, reference: str, url: str) -> str:
        token = self.token(TrackingKind.CLICK, reference, url)
        return self.base_url + CLICK_PATH.format(token=token) + "?url=" + quote(url, safe="")

    def unsubscribe_url(self, reference: str) -> str:
        return self.base_url + UNSUBSCRIBE_PATH.format(token=self.token(TrackingKind.UNSUBSCRIBE, reference))

    def unsubscribe_headers(self, reference: str, mailto: str | None = None) -> dict[str, str]:
        """List-Unsubscribe with the https URL (and a mailto: when given) plus RFC 8058 one-click."""
        urls = self.unsubscribe_urls(reference, mailto)
        headers = {"List-Unsubscribe": ", ".join(f"<{url}>" for url in urls)}
        if self.base_url.startswith("https://"):
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return headers

    def unsubscribe_urls(self, reference: str, mailto: str | None = None) -> list[str]:
        """The URLs for ``OutgoingMessage.list_unsubscribe`` (set ``list_unsubscribe_post`` too)."""
        urls = [self.unsubscribe_url(reference)]
        if mailto:
            if any(c in mailto for c in "\r\n<>?, ") or "@" not in mailto:
                raise ValueError(f"{mailto!r} is not a plain mailbox")
            subject = quote("unsubscribe " + self.token(TrackingKind.UNSUBSCRIBE, reference), safe="")
            urls.append(f"mailto:{mailto}?subject={subject}")
        return urls

    # --- HTML -----------------------------------------------------------------------------------

    def rewrite_html(self, html: str, reference: str, *, clicks: bool = True, opens: bool = True) -> str:
        """Point http(s) links at click URLs and add an open pixel before ``</body>``.

        Links with the ``data-postroom-notrack`` attribute are left alone (the attribute is
        removed); so are mailto:, tel:, in-page anchors and anything not absolute http(s).
        """

        def anchor(match: re.Match[str]) -> str:
            tag = match.group(0)
            if _NOTRACK.search(tag):
                return _NOTRACK.sub("", tag)
            if not clicks:
                return tag
            href = _HREF.search(tag)
            if href is None:
                return tag
            raw = href.group(2)
            url = html_lib.unescape(raw[1:-1] if raw[:1] in "\"'" else raw).strip()
            if not _trackable(url):
                return tag
            replacement = f'{href.group(1)}"{html_lib.escape(self.click_url(reference, url), quote=True)}"'
            return tag[: href.start()] + replacement + tag[href.end() :]

        out = _ANCHOR.sub(anchor, html)
        if opens:
            pixel = (
                f'<img src="{html_lib.escape(self.open_url(reference), quote=True)}" width="1" height="1" alt=""'
                ' style="display:block;border:0;width:1px;height:1px;overflow:hidden" />'
            )
            ends = list(_BODY_END.finditer(out))
            if ends:
                at = ends[-1].start()
                out = out[:at] + pixel + out[at:]
            else:
                out += pixel
        return out
