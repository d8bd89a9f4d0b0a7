"""parse_headers: the fast header summary used for every message on the SMTP path."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses

import pytest

from postroom.mime import Address, HeaderSummary, ParseLimits, parse_headers
from postroom.mime.addresses import parse_address_list


def msg(*headers: str, body: str = "body\r\n", newline: str = "\r\n") -> bytes:
    return (newline.join(headers) + newline + newline + body).encode("utf-8")


@pytest.mark.parametrize(
    ("raw_subject", "expected"),
    [
        ("=?utf-8?B?SGVsbG8gd29ybGQg4pyT?=", "Hello world ✓"),
        ("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Grüße aus Köln"),
        ("=?iso-8859-1?q?caf=E9_cr=E8me?=", "café crème"),
        ("Re: =?utf-8?q?r=C3=A9sum=C3=A9?= attached", "Re: résumé attached"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between encoded words is dropped
        ("=?utf-8?q?a?=\r\n =?utf-8?q?_b?=", "a b"),
        ("=?UTF-8?B?4pyTIA==?= =?UTF-8?B?8J+Y?= =?UTF-8?B?gA==?=", "✓ 😀"),  # split multibyte char
        ("=?utf-8*en?q?hello?=", "hello"),  # RFC 2231 language suffix
        ("=?x-unknown?q?caf=C3=A9?=", "café"),
        ("=?utf-8?b?not base64 at all?=", "=?utf-8?b?not base64 at all?="),
        ("plain  subject", "plain  subject"),
    ],
)
def test_rfc2047_subjects(raw_subject: str, expected: str) -> None:
    summary = parse_headers(msg(f"Subject: {raw_subject}", "From: a@example.com"))
    assert summary.subject == expected


def test_folded_subject_is_unfolded() -> None:
    summary = parse_headers(msg("Subject: a very long\r\n\tsubject line\r\n  continued"))
    assert summary.subject == "a very long subject line continued"


def test_smtputf8_raw_utf8_headers() -> None:
    raw = msg(
        "From: Jörg Müller <jörg@Bücher.Example>",
        "To: 日本 <user@例え.jp>",
        "Subject: Grüße 日本",
    )
    summary = parse_headers(raw)
    assert summary.subject == "Grüße 日本"
    assert summary.sender == Address(name="Jörg Müller", address="jörg@bücher.example")
    assert summary.to == (Address(name="日本", address="user@例え.jp"),)
    assert "8bit-headers" in summary.flags


def test_latin1_raw_header_falls_back() -> None:
    raw = b"Subject: caf\xe9\r\nFrom: Ren\xe9 <rene@example.com>\r\n\r\nbody"
    summary = parse_headers(raw)
    assert summary.subject == "café"
    assert summary.sender == Address(name="René", address="rene@example.com")
    assert "8bit-headers" in summary.flags


def test_raw_8bit_bytes_inside_encoded_word_and_charset_hint() -> None:
    # Eudora put a raw latin-1 byte inside a Q-encoded word labelled iso-8859-1.
    eudora = parse_headers(b"Subject: =?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=\r\n\r\n")
    assert eudora.subject == "Die Hasen und die Frösche"
    # Raw GB2312 header bytes are read with the message's declared charset.
    raw = (
        b"Subject: " + "邮件无法发送".encode("gb2312") + b"\r\n"
        b"From: " + "张三".encode("gb2312") + b" <zhang@example.cn>\r\n"
        b'Content-Type: text/plain; charset="gb2312"\r\n\r\nbody'
    )
    summary = parse_headers(raw)
    assert summary.subject == "邮件无法发送"
    assert summary.sender == Address("张三", "zhang@example.cn")


def test_addresses_lowercase_domain_only_and_decode_names() -> None:
    summary = parse_headers(
        msg(
            'From: "Doe, John" <John.Doe@Example.COM>',
            "To: =?utf-8?q?J=C3=B6rg?= <joerg@EXAMPLE.de>, plain@Example.org",
            'Cc: Team: a@b.example, "x, y" <D@E.example>;, g@h.example',
            "Bcc: hidden@example.net",
            "Reply-To: <replies@Lists.Example.org>",
        )
    )
    assert summary.sender == Address("Doe, John", "John.Doe@example.com")
    assert summary.to == (Address("Jörg", "joerg@example.de"), Address("", "plain@example.org"))
    assert summary.cc == (
        Address("", "a@b.example"),
        Address("x, y", "D@e.example"),
        Address("", "g@h.example"),
    )
    assert summary.bcc == (Address("", "hidden@example.net"),)
    assert summary.reply_to == (Address("", "replies@lists.example.org"),)


def test_unlisted_recipients_gives_empty_to() -> None:
    summary = parse_headers(msg("To: unlisted-recipients:; (no To-header on input)", "Subject: x"))
    assert summary.to == ()
    assert summary.subject == "x"


def test_repeated_address_headers_are_merged() -> None:
    summary = parse_headers(msg("To: a@example.com", "To: b@example.com"))
    assert [a.address for a in summary.to] == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize(
    "value",
    [
        "John Doe <j@x.example>",
        '"John   Doe" <j@x.example>',
        "John   Doe <j@x.example>",
        "<a@b.example>",
        "a@b.example, c@d.example,",
        '"Doe, John" <j@x.example>, Jane <jane@y.example>',
        "John.Doe <j@x.example>",
        "a@b (Comment Name)",
        "<a@b.example> (ignored)",
        "Name <a@b.example> (ignored), c@d.example (Cee)",
        "a@b.example  (  spaced  name )",
        "a@b.example (), (pre) c@d.example",
        "a@b.example (c, d)",
        "Jörg Müller <j@x.example>, 日本 太郎 <t@x.example>",
        '"Jörg, M." <j@x.example>',
        "<@route:a@b.example>",
        '"a\\"b" <c@d.example>',
        "Team: a@b.example;",
        "localrecipient",
        "foo@bar, ,baz@q",
    ],
)
def test_fast_path_agrees_with_getaddresses(value: str) -> None:
    expected = [(n, a) for n, a in getaddresses([value]) if a]
    assert [(a.name, a.address) for a in parse_address_list(value)] == expected


def test_message_id_date_and_tags() -> None:
    summary = parse_headers(
        msg(
            "Message-ID:  <abc.123@example.org> ",
            "Date: Tue, 14 May 2024 10:00:00 +0200",
            "X-Tags: work, urgent , work,,  later",
            "X-Tags: urgent, extra",
        )
    )
    assert summary.message_id == "abc.123@example.org"
    assert summary.date == datetime(2024, 5, 14, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert summary.tags == ("work", "urgent", "later", "extra")
    assert summary.flags == ()


def test_date_without_zone_is_utc_and_bad_date_is_flagged() -> None:
    naive = parse_headers(msg("Date: Tue, 14 May 2024 10:00:00 -0000"))
    assert naive.date == datetime(2024, 5, 14, 10, 0, tzinfo=UTC)
    bad = parse_headers(msg("Date: the day after tomorrow"))
    assert bad.date is None
    assert "invalid-date" in bad.flags
    assert parse_headers(msg("Subject: no date")).date is None


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings(newline: str) -> None:
    raw = msg(
        "From: Alice <alice@example.com>",
        "Subject: =?utf-8?q?caf=C3=A9?=",
        "To: bob@example.com,",
        "  carol@example.com",
        body="Subject: not a header\r\n",
        newline=newline,
    )
    summary = parse_headers(raw)
    assert summary.subject == "café"
    assert [a.address for a in summary.to] == ["bob@example.com", "carol@example.com"]
    assert summary.flags == ()


def test_mbox_from_line_is_skipped() -> None:
    summary = parse_headers(b"From someone@example.com Fri Feb 22 17:06:23 2008\nSubject: hi\n\nbody")
    assert summary.subject == "hi"
    assert summary.flags == ()


def test_problems_are_flagged() -> None:
    no_separator = parse_headers(b"Subject: only headers\r\nFrom: a@example.com\r\n")
    assert no_separator.subject == "only headers"
    assert "no-header-body-separator" in no_separator.flags
    malformed = parse_headers(b"Subject: s\r\nthis is not a header\r\nFrom: a@example.com\r\n\r\nbody")
    assert malformed.subject == "s"
    assert malformed.sender is None  # like email.parser, the bad line starts the body
    assert "malformed-headers" in malformed.flags
    obsolete = parse_headers(b"Subject : spaced colon\r\n\r\nbody")
    assert obsolete.subject == "spaced colon"


def test_nul_bytes_are_removed() -> None:
    assert parse_headers(b"Subject: a\x00b\r\n\r\n").subject == "ab"


def test_huge_encoded_word_header_is_fast_and_flagged() -> None:
    word = "=?utf-8?q?=C3=A9t=C3=A9?= "
    to = "To: " + ", ".join(f"{word}<user{i}@example.com>" for i in range(800 * 1024 // 45))
    raw = msg("From: a@example.com", to, "Subject: " + word * (800 * 1024 // len(word)))
    assert len(raw) > 1_600_000
    started = time.perf_counter()
    summary = parse_headers(raw)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert "header-too-long" in summary.flags
    assert 0 < len(summary.to) < 2000
    assert summary.subject.startswith("étéété")


def test_hostile_address_headers_stay_bounded() -> None:
    # Junk that the fast path rejects would cost ~3 us a character in getaddresses.
    raw = b"".join(b"To: " + b"@," * 32000 + b"\r\n" for _ in range(60)) + b"Subject: s\r\n\r\n"
    started = time.perf_counter()
    summary = parse_headers(raw)
    assert time.perf_counter() - started < 2.0
    assert summary.to == ()
    assert summary.subject == "s"
    assert "header-too-long" in summary.flags


def test_large_legitimate_recipient_list() -> None:
    to = "To: " + ", ".join(f'"User {i}" <user{i}@Example.com>' for i in range(1500))
    summary = parse_headers(msg(to))
    assert len(summary.to) == 1500
    assert summary.to[-1] == Address("User 1499", "user1499@example.com")
    assert summary.flags == ()


def test_limits_are_respected() -> None:
    limits = ParseLimits(max_header_bytes=100, max_headers=3)
    summary = parse_headers(msg("Subject: " + "x " * 500, "A: 1", "B: 2", "From: a@example.com"), limits)
    assert len(summary.subject) <= 100
    assert summary.sender is None
    assert {"header-too-long", "too-many-headers"} <= set(summary.flags)


def test_never_raises_on_junk() -> None:
    rng = random.Random(20240514)
    samples = [b"", b"\r\n", b"\n\n\n", b":", b" : ", b"\x00" * 50, b"\xff\xfe" * 100, b"=?" * 1000]
    samples += [rng.randbytes(rng.randrange(0, 4000)) for _ in range(300)]
    for raw in samples:
        assert isinstance(parse_headers(raw), HeaderSummary)
    empty = parse_headers(b"")
    assert empty.subject == "" and empty.sender is None and empty.flags == ()


def test_hot_path_speed_guard() -> None:
    raw = msg(
        "Received: from mx.example.org by mx.example.com; Tue, 14 May 2024 10:00:00 +0000",
        'From: "Alice" <alice@example.org>',
        "To: Bob <bob@example.com>, carol@example.com",
        "Subject: =?utf-8?q?hello_w=C3=B6rld?=",
        "Date: Tue, 14 May 2024 10:00:00 +0200",
        "Message-ID: <1@example.org>",
        body="x" * 3000,
    )
    parse_headers(raw)
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        parse_headers(raw)
    per_call = (time.perf_counter() - started) / rounds
    # Generous bound (target is ~30 us): catches a slide into the full email parser, not noise.
    assert per_call < 500e-6
