from __future__ import annotations

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
