"""parse_message / extract_part: bodies, attachments, limits and failure handling."""

from __future__ import annotations

import base64
import random
import time
from email.parser import BytesParser

import pytest

from postroom.mime import ParsedMessage, ParseLimits, Part, extract_part, parse_message

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def multipart(boundary: str, *parts: str, subtype: str = "mixed", headers: str = "") -> str:
    head = f'{headers}Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\npreamble\r\n'
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return head + body + f"--{boundary}--\r\n"


TOP = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: test\r\nMIME-Version: 1.0\r\n"


def test_plain_message() -> None:
    raw = (TOP + "Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n  world\r\n").encode()
    parsed = parse_message(raw)
    assert parsed.text == "Hello\n  world\n"
    assert parsed.html == ""
    assert parsed.attachments == ()
    assert parsed.snippet == "Hello world"
    assert parsed.summary.subject == "test"
    assert parsed.headers[0] == ("From", "Alice <alice@example.com>")
    assert parsed.flags == ()


def test_header_values_are_decoded_in_order() -> None:
    raw = (
        b"Received: from a\r\n by b\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nX-Raw: caf\xc3\xa9\r\n"
        b"Received: second\r\n\r\nbody"
    )
    assert parse_message(raw).headers == (
        ("Received", "from a by b"),
        ("Subject", "café"),
        ("X-Raw", "café"),
        ("Received", "second"),
    )


def test_alternative_and_attachments_with_rfc2231_names() -> None:
    raw = (
        TOP
        + multipart(
            "outer",
            multipart(
                "alt",
                "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable"
                "\r\n\r\ncaf=E9 text",
                "Content-Type: text/html; charset=utf-8\r\n\r\n<p>caf\xc3\xa9 <b>html</b></p>",
                subtype="alternative",
            ),
            "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.pdf\r\n\r\n"
            + b64(b"%PDF-1.4 fake"),
            'Content-Type: text/plain; name="ignored.txt"\r\n'
            "Content-Disposition: attachment;\r\n filename*0*=utf-8''long%20name%20;\r\n"
            ' filename*1="part two";\r\n filename*2=".txt"\r\n\r\nnotes',
            "Content-Type: application/octet-stream\r\n"
            'Content-Disposition: attachment; filename="=?utf-8?q?=E6=97=A5=E6=9C=AC.bin?="\r\n\r\nxyz',
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\nnameless",
        )
    ).encode("latin-1")
    parsed = parse_message(raw)
    assert parsed.text == "café text"
    assert parsed.html == "<p>café <b>html</b></p>"
    names = [(a.index, a.filename, a.content_type, a.size) for a in parsed.attachments]
    assert names == [
        (3, "€ résumé.pdf", "application/pdf", 13),
        (4, "long name part two.txt", "text/plain", 5),
        (5, "日本.bin", "application/octet-stream", 3),
        (6, "part-6.bin", "application/octet-stream", 8),
    ]
    assert all(a.disposition == "attachment" and not a.is_inline for a in parsed.attachments)
    for attachment in parsed.attachments:
        found = extract_part(raw, attachment.index)
        assert found is not None
        assert found[0] == attachment
    assert extract_part(raw, 3) == (parsed.attachments[0], b"%PDF-1.4 fake")
    assert extract_part(raw, 1) is not None  # body parts are numbered too
    assert extract_part(raw, 0) is None
    assert extract_part(raw, 7) is None


def test_cid_inline_versus_regular_attachment() -> None:
    raw = (
        TOP
        + multipart(
            "rel",
            "Content-Type: text/html\r\n\r\n<p>logo <img src=\"cid:logo@x\"> and <img src='CID:pic%40y'></p>",
            f"Content-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(PNG)}",
            f"Content-Type: image/png; name=pic.png\r\nContent-ID: <pic@y>\r\nContent-Disposition: attachment"
            f"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(PNG)}",
            "Content-Type: image/png\r\nContent-ID: <unused@z>\r\nContent-Disposition: inline\r\n\r\nraw",
            f"Content-Type: image/png; name=photo.png\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(PNG)}",
            subtype="related",
        )
    ).encode()
    parsed = parse_message(raw)
    by_index = {a.index: a for a in parsed.attachments}
    assert by_index[2] == Part(2, "part-2.png", "image/png", len(PNG), "logo@x", "inline", True)
    assert by_index[3].is_inline and by_index[3].filename == "pic.png"  # referenced wins over disposition
    assert by_index[4].is_inline and by_index[4].disposition == "inline"
    assert not by_index[5].is_inline and by_index[5].disposition == "attachment"
    assert extract_part(raw, 2) == (by_index[2], PNG)


def test_html_only_message_gets_text_rendering() -> None:
    html = (
        "<html><head><style>p {color: red}</style><title>t</title></head><body>"
        '<h1>Hi&nbsp;there</h1><p>Read <a href="https://example.com/x">the docs</a> or '
        '<a href="https://example.org">https://example.org</a>.</p>'
        "<ul><li>one</li><li>two &amp; three</li></ul><script>alert(1)</script></body></html>"
    )
    raw = (TOP + "Content-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    parsed = parse_message(raw)
    assert parsed.html == html
    assert parsed.text == (
        "Hi there\n\nRead the docs (https://example.com/x) or https://example.org.\n\n- one\n- two & three"
    )
    assert parsed.snippet.startswith("Hi there Read the docs (https://example.com/x)")


def test_nested_message_is_an_attachment_not_merged() -> None:
    inner = "From: c@example.com\r\nSubject: Quarterly =?utf-8?q?n=C3=BCmbers?=\r\n\r\ninner body text\r\n"
    raw = (
        TOP
        + multipart(
            "m",
            "Content-Type: text/plain\r\n\r\nouter text",
            "Content-Type: message/rfc822\r\n\r\n" + inner,
            'Content-Type: message/rfc822; name="fwd.eml"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + b64(inner.encode()),
        )
    ).encode()
    parsed = parse_message(raw)
    assert parsed.text == "outer text"
    assert "inner body" not in parsed.text
    first, second = parsed.attachments
    assert (first.filename, first.content_type) == ("Quarterly nümbers.eml", "message/rfc822")
    assert second.filename == "fwd.eml"
    for part in (first, second):
        found = extract_part(raw, part.index)
        assert found is not None
        assert found[1] == inner.encode()
        assert parse_message(found[1]).text == "inner body text\n"


def test_named_text_part_is_shown_when_there_is_no_other_text() -> None:
    raw = (
        TOP
        + multipart(
            "n",
            'Content-Type: text/plain; name="problems.txt"\r\n\r\nUser unknown',
            "Content-Type: message/rfc822\r\n\r\n",
        )
    ).encode()
    parsed = parse_message(raw)
    assert parsed.text == "User unknown"
    assert [(a.filename, a.size) for a in parsed.attachments] == [("problems.txt", 12), ("part-2.eml", 0)]


def depth_bomb(depth: int) -> bytes:
    opening = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(depth))
    closing = "".join(f"\r\n--b{i}--" for i in reversed(range(depth)))
    return ("Subject: bomb\r\n" + opening + "Content-Type: text/plain\r\n\r\ndeep" + closing + "\r\n").encode()


def test_mime_depth_bomb() -> None:
    parsed = parse_message(depth_bomb(200))
    assert "mime-depth-exceeded" in parsed.flags
    assert parsed.summary.subject == "bomb"
    shallow = parse_message(depth_bomb(10))
    assert shallow.text == "deep" and "mime-depth-exceeded" not in shallow.flags


def test_too_many_parts_and_too_large_parts() -> None:
    parts = [f"Content-Type: application/octet-stream\r\n\r\n{'x' * 100}" for _ in range(20)]
    raw = (TOP + multipart("p", "Content-Type: text/plain\r\n\r\nhi", *parts)).encode()
    limited = parse_message(raw, ParseLimits(max_parts=5))
    assert "too-many-parts" in limited.flags
    assert len(limited.attachments) == 4
    small = ParseLimits(max_part_bytes=50)
    too_large = parse_message(raw, small)
    assert "part-too-large" in too_large.flags
    assert too_large.text == "hi"
    assert all(a.size == 100 for a in too_large.attachments)
    assert extract_part(raw, 2, small) is None
    assert extract_part(raw, 2) is not None


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/plain; charset=x-no-such-charset", "caf\xc3\xa9".encode("latin-1"), "café"),
        ("text/plain; charset=us-ascii", "caf\xc3\xa9".encode("latin-1"), "café"),
        ("text/plain; charset=utf-8", b"caf\xe9", "café"),
        ("text/plain; charset=zlib", b"plain", "plain"),
        ("text/plain; charset=punycode", b"plain", "plain"),
    ],
)
def test_undecodable_charsets(content_type: str, body: bytes, expected: str) -> None:
    raw = f"Subject: s\r\nContent-Type: {content_type}\r\n\r\n".encode() + body
    parsed = parse_message(raw)
    assert parsed.text == expected
    assert "undecodable-charset" in parsed.flags


def test_japanese_mislabelled_charset_is_still_readable() -> None:
    raw = b"Subject: s\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n" + "日本語".encode("euc_jp")
    assert parse_message(raw).text == "日本語"


def test_long_lines_and_defects() -> None:
    raw = (TOP + "Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here " + "y" * 1200).encode()
    parsed = parse_message(raw)
    assert {"long-lines", "missing-boundary", "defects"} <= set(parsed.flags)
    assert parsed.text.startswith("no parts here")


def test_huge_headers_do_not_blow_up() -> None:
    word = "=?utf-8?q?=C3=A9t=C3=A9?= "
    to = "To: " + word * (800 * 1024 // len(word))
    nested_name = word * 30000
    raw = (
        "From: a@example.com\r\n"
        + to
        + "\r\nSubject: hi\r\n"
        + multipart("x", f'Content-Type: text/plain; name="{nested_name}"\r\n\r\nhello')
    ).encode()
    started = time.perf_counter()
    parsed = parse_message(raw)
    assert time.perf_counter() - started < 1.0
    assert "header-too-long" in parsed.flags
    assert parsed.summary.subject == "hi"
    assert all(len(value) <= 64 * 1024 for _, value in parsed.headers)


def test_compat32_fallback_on_policy_default_crash() -> None:
    # policy.default raises IndexError on this parameter list (Python 3.11); compat32 copes.
    raw = (
        TOP
        + multipart(
            "f",
            "Content-Type: text/plain\r\n\r\nbody text",
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*0*\r\n\r\nDATA",
        )
    ).encode()
    parsed = parse_message(raw)
    assert "compat32-fallback" in parsed.flags
    assert parsed.text == "body text"
    assert len(parsed.attachments) == 1
    found = extract_part(raw, parsed.attachments[0].index)
    assert found is not None and found[1] == b"DATA"


def test_parse_error_returns_raw_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("parser exploded")

    monkeypatch.setattr(BytesParser, "parsebytes", broken)
    raw = b"Subject: s\r\n\r\nthe body\r\n"
    parsed = parse_message(raw)
    assert "parse-error" in parsed.flags
    assert parsed.summary.subject == "s"
    assert "the body" in parsed.text
    assert extract_part(raw, 1) is None


def test_never_raises_on_junk() -> None:
    rng = random.Random(1996)
    samples = [b"", b"\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\n", b"\x00" * 100]
    samples += [rng.randbytes(rng.randrange(0, 3000)) for _ in range(200)]
    structured = TOP + multipart("r", "Content-Type: text/plain\r\n\r\nhello", "Content-Type: image/png\r\n\r\nx")
    for _ in range(200):
        data = bytearray(structured.encode())
        for _ in range(rng.randrange(1, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        samples.append(bytes(data))
    for raw in samples:
        parsed = parse_message(raw)
        assert isinstance(parsed, ParsedMessage)
        for part in parsed.attachments:
            assert part.filename
        extract_part(raw, 1)
    empty = parse_message(b"")
    assert (empty.text, empty.html, empty.attachments) == ("", "", ())
