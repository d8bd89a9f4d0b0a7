"""Signed tracking tokens, link rewriting, the open pixel and one-click unsubscribe headers."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from postroom.mime.build import OutgoingMessage, build_message
from postroom.mime.parse import parse_message
from postroom.send.tracking import InvalidToken, Tracker, TrackingKind

KEY = b"k" * 32
BASE = "https://t.example.com"


@pytest.fixture
def tracker() -> Tracker:
    return Tracker([KEY], BASE)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href") is not None:
            self.hrefs.append(str(values["href"]))
        if tag == "img" and values.get("src") is not None:
            self.images.append(str(values["src"]))


def links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def click_parts(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    assert url.startswith(BASE + "/t/c/")
    return parts.path.rsplit("/", 1)[1], parse_qs(parts.query)["url"][0]


def test_tokens_round_trip_with_kind_reference_and_url(tracker: Tracker) -> None:
    token = tracker.token(TrackingKind.CLICK, "rcpt_42", "https://shop.example/a?b=1")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    verified = tracker.resolve_click(token, "https://shop.example/a?b=1")
    assert verified.reference == "rcpt_42"
    assert verified.kind is TrackingKind.CLICK
    opened = tracker.verify(tracker.token(TrackingKind.OPEN, "rcpt_é"), TrackingKind.OPEN)
    assert opened.reference == "rcpt_é"


def test_a_click_only_redirects_to_the_signed_url(tracker: Tracker) -> None:
    token = tracker.token(TrackingKind.CLICK, "r1", "https://shop.example/offer")
    other = tracker.token(TrackingKind.CLICK, "r1", "https://shop.example/other")
    for url in ("https://evil.example/", "https://shop.example/offer?x", "https://shop.example/offer/", ""):
        with pytest.raises(InvalidToken):
            tracker.resolve_click(token, url)
    with pytest.raises(InvalidToken):
        tracker.resolve_click(other, "https://shop.example/offer")  # tokens swapped between links


def test_every_altered_byte_is_rejected(tracker: Tracker) -> None:
    token = tracker.token(TrackingKind.CLICK, "rcpt_1", "https://shop.example/")
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(altered)).rstrip(b"=").decode()
        with pytest.raises(InvalidToken):
            tracker.resolve_click(forged, "https://shop.example/")


def test_tokens_do_not_cross_kinds_or_keys(tracker: Tracker) -> None:
    open_token = tracker.token(TrackingKind.OPEN, "r1")
    with pytest.raises(InvalidToken):
        tracker.verify(open_token, TrackingKind.UNSUBSCRIBE)
    with pytest.raises(InvalidToken):
        Tracker([b"x" * 32], BASE).verify(open_token)
    for garbage in ("", "!!!", "a" * 5000, "AAAA"):
        with pytest.raises(InvalidToken):
            tracker.verify(garbage)


def test_old_keys_still_verify_after_rotation(tracker: Tracker) -> None:
    token = tracker.token(TrackingKind.UNSUBSCRIBE, "r1")
    rotated = Tracker([b"n" * 32, KEY], BASE)
    assert rotated.verify(token, TrackingKind.UNSUBSCRIBE).reference == "r1"
    assert rotated.token(TrackingKind.UNSUBSCRIBE, "r1") != token


def test_rewrite_tracks_web_links_and_skips_the_rest(tracker: Tracker) -> None:
    html = (
        "<html><body>"
        '<a href="https://shop.example/p?a=1&amp;b=2">Shop</a>'
        "<a class='x' href='http://plain.example/'>Plain</a>"
        '<a href="mailto:help@example.com">Mail</a>'
        '<a href="tel:+15551234">Call</a>'
        '<a href="#top">Top</a>'
        '<a href="/relative">Rel</a>'
        '<a data-postroom-notrack href="https://private.example/">Private</a>'
        '<a title="a > b" href="https://gt.example/">Gt</a>'
        "</body></html>"
    )
    out = tracker.rewrite_html(html, "rcpt_7")
    found = links(out)
    tracked = [click_parts(h) for h in found.hrefs if h.startswith(BASE)]
    assert [url for _, url in tracked] == [
        "https://shop.example/p?a=1&b=2",
        "http://plain.example/",
        "https://gt.example/",
    ]
    for token, url in tracked:
        assert tracker.resolve_click(token, url).reference == "rcpt_7"
    assert [h for h in found.hrefs if not h.startswith(BASE)] == [
        "mailto:help@example.com",
        "tel:+15551234",
        "#top",
        "/relative",
        "https://private.example/",
    ]
    assert "data-postroom-notrack" not in out
    assert "class='x'" in out


def test_open_pixel_goes_before_the_body_end(tracker: Tracker) -> None:
    out = tracker.rewrite_html("<html><body><p>Hi</p></BODY></html>", "rcpt_9", clicks=False)
    (pixel,) = links(out).images
    assert out.index(pixel) < out.lower().index("</body>")
    token = urlsplit(pixel).path.rsplit("/", 1)[1]
    assert tracker.verify(token, TrackingKind.OPEN).reference == "rcpt_9"
    fragment = tracker.rewrite_html("<p>Hi</p>", "rcpt_9")
    assert fragment.startswith("<p>Hi</p><img ")


def test_unsubscribe_headers_follow_rfc_8058(tracker: Tracker) -> None:
    headers = tracker.unsubscribe_headers("rcpt_3", mailto="unsubscribe@example.com")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_url, mailto = re.findall(r"<([^>]+)>", headers["List-Unsubscribe"])
    assert https_url.startswith(BASE + "/t/u/")
    assert tracker.verify(https_url.rsplit("/", 1)[1], TrackingKind.UNSUBSCRIBE).reference == "rcpt_3"
    assert mailto.startswith("mailto:unsubscribe@example.com?subject=unsubscribe%20")
    raw = build_message(
        OutgoingMessage(
            sender="news@example.com",
            to=["ann@example.org"],
            subject="News",
            text="hi",
            list_unsubscribe=tracker.unsubscribe_urls("rcpt_3", "unsubscribe@example.com"),
            list_unsubscribe_post=True,
        )
    ).raw
    parsed = dict(parse_message(raw).headers)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.findall(r"<([^>]+)>", parsed["List-Unsubscribe"]) == [https_url, mailto]


def test_insecure_or_weak_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        Tracker([KEY], "http://t.example.com")
    with pytest.raises(ValueError, match="16 bytes"):
        Tracker([b"short"], BASE)
    local = Tracker([KEY], "http://localhost:8025", allow_http=True)
    assert "List-Unsubscribe-Post" not in local.unsubscribe_headers("r1")
