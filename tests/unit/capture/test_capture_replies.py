from __future__ import annotations

import pytest

from postroom.capture import replies


def test_reply_renders_code_status_and_text() -> None:
    assert str(replies.Reply(250, "2.1.0", "Ok")) == "250 2.1.0 Ok"


def test_queued_reply_names_the_stored_id() -> None:
    assert str(replies.queued(123)) == "250 2.0.0 Ok: queued as 123"


def test_store_unavailable_is_a_temporary_failure() -> None:
    assert replies.STORE_UNAVAILABLE.code == 451
    assert str(replies.STORE_UNAVAILABLE).startswith("451 4.3.0 ")


@pytest.mark.parametrize(("code", "expected"), [(451, "451 4.3.0 "), (550, "550 5.3.0 "), (452, "452 4.3.0 ")])
def test_chaos_reply_uses_the_trigger_code(code: int, expected: str) -> None:
    text = str(replies.chaos(code))
    assert text.startswith(expected)
    assert "Chaos: simulated failure" in text


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"250 OK", 250),
        (b"250-SIZE 100", None),
        (b"354 End data", 354),
        (b"220", 220),
        (b"hello", None),
        (b"", None),
        (b"334 VXNlcm5hbWU6", 334),
    ],
)
def test_reply_code_reads_final_lines_only(line: bytes, code: int | None) -> None:
    assert replies.reply_code(line) == code


def test_every_reply_constant_is_well_formed() -> None:
    for name in replies.__all__:
        value = getattr(replies, name)
        if isinstance(value, replies.Reply):
            assert 200 <= value.code <= 599, name
            assert value.status[0] == str(value.code)[0], name
