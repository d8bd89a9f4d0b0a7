from __future__ import annotations

import random
import re

import pytest

from postroom.capture.smtp import RFC_LINE_LIMIT, has_long_lines


@pytest.mark.parametrize(
    ("raw", "long"),
    [
        (b"Subject: x\r\n\r\n" + b"a" * RFC_LINE_LIMIT + b"\r\n", False),
        (b"Subject: x\r\n\r\n" + b"a" * (RFC_LINE_LIMIT + 1) + b"\r\n", True),
        (b"a" * (RFC_LINE_LIMIT + 1), True),
        (b"a" * 600 + b"\n" + b"a" * 600 + b"\r\n", False),
        (b"a" * 600 + b"\r" + b"a" * 600, False),
        (b"Subject: " + b"x" * 5000 + b"\r\n\r\nbody\r\n", True),
        (b"", False),
    ],
)
def test_has_long_lines(raw: bytes, long: bool) -> None:
    assert has_long_lines(raw) is long


def test_has_long_lines_agrees_with_splitting_on_random_input() -> None:
    rng = random.Random(7)
    for _ in range(300):
        pieces = [b"x" * rng.choice([0, 1, 97, 98, 99, 100, 250]) for _ in range(rng.randint(0, 12))]
        raw = b"".join(piece + rng.choice([b"\r\n", b"\n", b"\r", b""]) for piece in pieces)
        expected = any(len(line) > 99 for line in re.split(rb"[\r\n]", raw))
        assert has_long_lines(raw, limit=99) is expected, raw
