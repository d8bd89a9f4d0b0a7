"""The outgoing message builder: structure, encodings, line rules, header injection, compose()."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage

import pytest

from postroom.mime.addresses import Address
from postroom.mime.build import (
    HeaderInjectionError,
    MessageBuildError,
    OutgoingAttachment,
    OutgoingMessage,
    build_message,
)
from postroom.mime.compose import Attachment, ComposeError, Draft, compose
from postroom.mime.parse import extract_part, parse_message

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_wire_rules(raw: bytes) -> None:
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    raw.decode("ascii")  # everything is 7-bit on the wire


def test_text_only_message_is_a_single_7bit_part() -> None:
    built = build_message(OutgoingMessage(sender="shop@example.com", to=["ann@example.org"], subject="Hi", text="a\nb"))
    assert_wire_rules(built.raw)
    message = parsed(built.raw)
    assert message.get_content_type() == "text/plain"
    assert message["Content-Transfer-Encoding"] == "7bit"
    assert message.get_content().replace("\r\n", "\n") == "a\nb\n"
    assert message["MIME-Version"] == "1.0"
    assert message["Message-ID"] == built.message_id
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.com>", built.message_id)


def test_text_and_html_with_inline_image_and_attachment_nest_correctly() -> None:
    built = build_message(
        OutgoingMessage(
            sender="Shop <shop@example.com>",
            to=["Ann <ann@example.org>"],
            subject="Your order",
            text="Thanks!",
            html='<p>Thanks! <img src="cid:logo@shop"></p>',
            attachments=[
                OutgoingAttachment("logo.png", "image/png", PNG, content_id="logo@shop"),
                OutgoingAttachment("invoice.pdf", "application/pdf", PDF),
            ],
        )
    )
    assert_wire_rules(built.raw)
    message = parsed(built.raw)
    shape = [(part.get_content_type(), part.get_filename()) for part in message.walk()]
    assert shape == [
        ("multipart/mixed", None),
        ("multipart/alternative", None),
        ("text/plain", None),
        ("multipart/related", None),
        ("text/html", None),
        ("image/png", "logo.png"),
        ("application/pdf", "invoice.pdf"),
    ]
    parts = {part.get_content_type(): part for part in message.walk()}
    assert parts["image/png"]["Content-ID"] == "<logo@shop>"
    assert parts["image/png"].get_content_disposition() == "inline"
    assert parts["image/png"].get_content() == PNG
    assert parts["application/pdf"].get_content() == PDF
    ours = parse_message(built.raw)
    assert ours.text == "Thanks!\n"
    assert [(p.filename, p.is_inline) for p in ours.attachments] == [("logo.png", True), ("invoice.pdf", False)]
    found = extract_part(built.raw, ours.attachments[1].index)
    assert found is not None and found[1] == PDF


def test_inline_parts_without_html_become_attachments() -> None:
    built = build_message(
        OutgoingMessage(
            sender="a@example.com",
            to=["b@example.org"],
            text="see attached",
            attachments=[OutgoingAttachment("x.png", "image/png", PNG, content_id="x")],
        )
    )
    message = parsed(built.raw)
    assert [p.get_content_type() for p in message.walk()] == ["multipart/mixed", "text/plain", "image/png"]


def test_non_ascii_headers_names_domains_and_filenames_are_encoded() -> None:
    subject = " ".join(["Ihre Bestellung über 12 € ist unterwegs — danke schön!"] * 3)
    built = build_message(
        OutgoingMessage(
            sender=Address("Søren Ñandú", "soren@bücher.example"),
            to=['"Doe, John" <john@example.org>', "Zoë <zoe@example.org>", "plain@example.org"],
            cc=["李雷 <li@example.cn>"],
            reply_to=["Support <help@example.com>"],
            subject=subject,
            text="Grüße\n" + "ü" * 3000,
            html="<p>Grüße</p>",
            headers={"X-Campaign": "Frühling 2026"},
            attachments=[OutgoingAttachment("Übersicht März.pdf", "application/pdf", PDF)],
        )
    )
    assert_wire_rules(built.raw)
    message = parsed(built.raw)
    assert message["Subject"] == subject
    assert message["From"].addresses[0].display_name == "Søren Ñandú"
    assert message["From"].addresses[0].addr_spec == "soren@xn--bcher-kva.example"
    assert [a.display_name for a in message["To"].addresses] == ["Doe, John", "Zoë", ""]
    assert message["Cc"].addresses[0].display_name == "李雷"
    assert message["X-Campaign"] == "Frühling 2026"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "Grüße\n" + "ü" * 3000 + "\n"
    assert [p.get_filename() for p in message.iter_attachments()] == ["Übersicht März.pdf"]
    header_block = built.raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in header_block.split(b"\r\n")), "headers are folded"
    summary = parse_message(built.raw).summary
    assert summary.subject == subject


def test_long_unbroken_header_words_still_fold() -> None:
    built = build_message(OutgoingMessage(sender="a@example.com", to=["b@example.org"], subject="x" * 3000, text="t"))
    assert_wire_rules(built.raw)
    assert parsed(built.raw)["Subject"] == "x" * 3000


def test_long_ascii_lines_switch_to_quoted_printable() -> None:
    html = "<p>" + "word " * 600 + "</p>"
    built = build_message(OutgoingMessage(sender="a@example.com", to=["b@example.org"], html=html))
    assert_wire_rules(built.raw)
    message = parsed(built.raw)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.get_content().replace("\r\n", "\n") == html + "\n"


def test_given_message_id_date_and_list_unsubscribe_are_written() -> None:
    date = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    built = build_message(
        OutgoingMessage(
            sender="news@example.com",
            to=["ann@example.org"],
            text="hi",
            message_id="abc.123@mail.example.com",
            date=date,
            list_unsubscribe=["https://t.example.com/u/x", "mailto:u@example.com?subject=unsubscribe"],
            list_unsubscribe_post=True,
        )
    )
    message = parsed(built.raw)
    assert built.message_id == "<abc.123@mail.example.com>"
    assert message["Message-ID"] == "<abc.123@mail.example.com>"
    assert message["Date"].datetime == date
    assert message["List-Unsubscribe"] == "<https://t.example.com/u/x>, <mailto:u@example.com?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"sender": "a@example.com\r\nBcc: victim@example.org"}, "from"),
        ({"to": ["b@example.org\nBcc: victim@example.org"]}, "to[0]"),
        ({"cc": ["ok@example.org", "c@example.org\r"]}, "cc[1]"),
        ({"reply_to": ["r@example.org\n"]}, "reply_to[0]"),
        ({"subject": "Hi\r\nBcc: victim@example.org"}, "subject"),
        ({"headers": {"X-Tag": "a\nb"}}, "headers.X-Tag"),
        ({"message_id": "<a@b>\r\nX: y"}, "message_id"),
        ({"list_unsubscribe": ["https://x.example/\r\nX: y"]}, "list_unsubscribe[0]"),
        ({"sender": Address("Evil\r\nBcc: v@example.org", "a@example.com")}, "from"),
        (
            {"attachments": [OutgoingAttachment("a.txt\r\nContent-Type: text/html", "text/plain", b"x")]},
            "attachments[0].filename",
        ),
        ({"attachments": [OutgoingAttachment("a.txt", "text/plain\nX: y", b"x")]}, "attachments[0].content_type"),
        (
            {"html": "<p>x</p>", "attachments": [OutgoingAttachment("a.png", "image/png", b"x", "id\n")]},
            "attachments[0].content_id",
        ),
    ],
)
def test_line_breaks_in_any_header_value_are_refused(fields: dict[str, object], field_name: str) -> None:
    base: dict[str, object] = {"sender": "a@example.com", "to": ["b@example.org"], "text": "x"}
    with pytest.raises(HeaderInjectionError) as caught:
        build_message(OutgoingMessage(**{**base, **fields}))  # type: ignore[arg-type]
    assert caught.value.field == field_name
    assert field_name in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"sender": "not an address"}, "not an email address"),
        ({"to": ["a@example.org, b@example.org"]}, "expected one address"),
        ({"headers": {"Bad Name": "x"}}, "not a valid header name"),
        ({"headers": {"Content-Type": "text/html"}}, "set from its own field"),
        ({"headers": {"bcc": "x@example.org"}}, "set from its own field"),
        ({"sender": "jöhn@example.com"}, "non-ASCII local part"),
        ({"attachments": [OutgoingAttachment("a", "not-a-type", b"x")]}, "not a MIME type"),
        ({"attachments": [OutgoingAttachment("a", "multipart/mixed", b"x")]}, "multipart"),
        ({"message_id": "no-at-sign"}, "not a valid Message-ID"),
        ({"date": datetime(2026, 1, 1)}, "timezone"),
        ({"list_unsubscribe": ["mailto:u@example.com"], "list_unsubscribe_post": True}, "https"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(fields: dict[str, object], problem: str) -> None:
    base: dict[str, object] = {"sender": "a@example.com", "to": ["b@example.org"], "text": "x"}
    with pytest.raises(MessageBuildError, match=problem):
        build_message(OutgoingMessage(**{**base, **fields}))  # type: ignore[arg-type]


def test_boundaries_differ_between_messages() -> None:
    fields = OutgoingMessage(sender="a@example.com", to=["b@example.org"], text="t", html="<p>h</p>")
    first, second = build_message(fields).raw, build_message(fields).raw
    assert re.findall(rb'boundary="([^"]+)"', first) != re.findall(rb'boundary="([^"]+)"', second)


def test_compose_keeps_its_api_on_top_of_the_builder() -> None:
    raw = compose(
        Draft(
            sender="App <app@example.com>",
            to=["ann@example.org"],
            subject="Hello",
            text="plain",
            html="<b>rich</b>",
            attachments=[Attachment("a.txt", "aGVsbG8=", "text/plain")],
        ),
        domain="inbox.example",
    )
    assert_wire_rules(raw)
    message = parsed(raw)
    assert message["Message-ID"].endswith("@inbox.example>")
    assert message["Date"].datetime.tzinfo is not None
    assert message["Date"].datetime <= datetime.now(UTC)
    assert [p.get_content() for p in message.iter_attachments()] == ["hello"]
    with pytest.raises(ComposeError, match="subject"):
        compose(Draft(sender="a@example.com", to=["b@example.org"], subject="x\ny"))
    with pytest.raises(ComposeError, match="base64"):
        compose(Draft(sender="a@example.com", to=["b@example.org"], attachments=[Attachment("a", "!!")]))
