"""The chunked DATA reader answers what a line-by-line reader answers, however the octets are split."""

from __future__ import annotations

import asyncio
import random

import pytest

from postroom.capture.data import DataError, DataReader, read_data, unstuff

END = b"\r\n.\r\n"


def line_by_line(stream: bytes, *, line_limit: int, size_limit: int | None) -> tuple[DataError | None, bytes, int]:
    """The reference: RFC 5321 4.5.2 applied one CRLF-terminated line at a time, as aiosmtpd does.

    Returns (error, content, octets of the stream that were DATA)."""
    position, size, error, lines = 0, 0, None, []
    while True:
        crlf = stream.index(b"\r\n", position)
        line, position = stream[position : crlf + 2], crlf + 2
        if line == b".\r\n":
            return error, b"".join(lines), position
        if error is None and len(line) > line_limit:
            error = DataError.LINE_TOO_LONG
        size += len(line)
        if error is None and size_limit is not None and size > size_limit:
            error = DataError.TOO_MUCH_DATA
        lines.append(line[1:] if line.startswith(b".") else line)


def feed_in_chunks(reader: DataReader, stream: bytes, cuts: list[int]) -> int:
    """Feed ``stream`` cut at ``cuts``; returns how many octets were DATA."""
    offset = 0
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        used = reader.feed(stream[start:end])
        if used is not None:
            return offset + used
        offset = end
    raise AssertionError("the end of data was never found")


def random_stream(rng: random.Random) -> bytes:
    pieces = [b"a", b"bc", b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.", b"\n.\n", b"\r.\r", b"\n.\r\n", b"x" * 40]
    return b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_the_line_by_line_reader_wherever_the_chunks_are_cut(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        stream = random_stream(rng) + END + rng.choice([b"", b"QUIT\r\n", b"MAIL FROM:<a@b.c>\r\n.\r\n"])
        if rng.random() < 0.5:
            line_limit, size_limit = rng.choice([10, 30, 60]), None
        else:
            line_limit, size_limit = 10_000, rng.choice([0, 20, 80, 200])
        expected_error, expected_content, expected_used = line_by_line(
            stream, line_limit=line_limit, size_limit=size_limit or None
        )
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 8))))
        reader = DataReader(line_limit=line_limit, size_limit=size_limit)
        assert feed_in_chunks(reader, stream, cuts) == expected_used, stream
        assert reader.error == expected_error, stream
        assert reader.content == (None if expected_error else expected_content), stream


@pytest.mark.parametrize("cut", range(1, 24))
def test_the_end_marker_and_stuffed_dots_split_at_every_octet(cut: int) -> None:
    stream = b"..one\r\n.two\r\n.\r\nMAIL FROM:<next@example.com>\r\n"
    reader = DataReader(line_limit=100)
    used = feed_in_chunks(reader, stream, [cut])
    assert reader.content == b".one\r\ntwo\r\n"
    assert stream[used:] == b"MAIL FROM:<next@example.com>\r\n"


def test_one_octet_at_a_time() -> None:
    stream = b"Subject: x\r\n\r\n..\r\n...\r\n\r\n.\r\nRSET\r\n"
    reader = DataReader(line_limit=100)
    used = feed_in_chunks(reader, stream, list(range(1, len(stream))))
    assert reader.content == b"Subject: x\r\n\r\n.\r\n..\r\n\r\n"
    assert stream[used:] == b"RSET\r\n"


def test_a_dot_line_right_away_is_an_empty_message() -> None:
    reader = DataReader(line_limit=100)
    assert reader.feed(b".\r\nQUIT\r\n") == 3
    assert reader.content == b""


def test_bare_lf_and_cr_around_a_dot_do_not_end_the_data() -> None:
    smuggled = b"first\n.\nMAIL FROM:<evil@example.net>\r\nsecond\r.\r\nthird\n.\r\nfourth\r\n..\rfifth\r\n"
    reader = DataReader(line_limit=1000)
    assert reader.feed(smuggled) is None
    assert reader.feed(b".\r\n") == 3
    assert reader.content == smuggled.replace(b"\r\n..", b"\r\n.")


def test_a_line_over_the_cap_fails_only_at_the_end_of_data_and_keeps_nothing() -> None:
    reader = DataReader(line_limit=50)
    assert reader.feed(b"short\r\n" + b"y" * 60) is None
    assert reader.error is DataError.LINE_TOO_LONG
    assert reader.feed(b"y" * 10_000 + b"\r\nmore\r\n") is None
    assert len(reader._buf) < 10  # what follows a failure is dropped as it arrives
    assert reader.feed(b".\r\nNOOP\r\n") == 3
    assert reader.content is None


def test_the_cap_counts_the_crlf_and_the_transparency_dot() -> None:
    fits, over = DataReader(line_limit=8), DataReader(line_limit=8)
    fits.feed(b"..abcd\r\n.\r\n")  # 8 octets as sent
    over.feed(b"..abcde\r\n.\r\n")  # 9
    assert (fits.error, fits.content) == (None, b".abcd\r\n")
    assert over.error is DataError.LINE_TOO_LONG


def test_the_size_limit_counts_octets_as_sent() -> None:
    content = b"..1234567\r\n"  # 11 octets as sent, 10 stored
    exact, over = DataReader(line_limit=100, size_limit=11), DataReader(line_limit=100, size_limit=10)
    exact.feed(content + b".\r\n")
    over.feed(content + b".\r\n")
    assert (exact.error, exact.content) == (None, b".1234567\r\n")
    assert over.error is DataError.TOO_MUCH_DATA


def test_too_much_data_is_dropped_as_it_arrives() -> None:
    reader = DataReader(line_limit=100, size_limit=1_000)
    for _ in range(100):
        assert reader.feed(b"z" * 50 + b"\r\n") is None
    assert reader.error is DataError.TOO_MUCH_DATA
    assert len(reader._buf) < 10
    assert reader.feed(b"\r\n.\r\n") == 5


def test_a_split_end_marker_is_still_found_after_a_failure() -> None:
    reader = DataReader(line_limit=100, size_limit=10)
    assert reader.feed(b"0123456789abcdef\r\n.") is None
    assert reader.feed(b"\r") is None
    assert reader.feed(b"\nQUIT\r\n") == 1


@pytest.mark.parametrize(
    ("stuffed", "content"),
    [(b"", b""), (b".\r\n", b"\r\n"), (b"..x\r\n..\r\n", b".x\r\n.\r\n"), (b"a.b\r\n.c.\r\n", b"a.b\r\nc.\r\n")],
)
def test_unstuff(stuffed: bytes, content: bytes) -> None:
    assert unstuff(stuffed) == content


async def test_what_follows_the_end_stays_in_the_stream() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"Subject: a\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@example.com>\r\n")
    data = DataReader(line_limit=100)
    assert await read_data(stream, data) is True
    assert data.content == b"Subject: a\r\n\r\nbody\r\n"
    stream.feed_data(b"RCPT TO:<b@example.com>\r\n")
    assert await stream.readuntil(b"\r\n") == b"MAIL FROM:<a@example.com>\r\n"
    assert await stream.readuntil(b"\r\n") == b"RCPT TO:<b@example.com>\r\n"


async def test_the_data_arrives_over_several_reads() -> None:
    stream = asyncio.StreamReader()
    data = DataReader(line_limit=100)
    reading = asyncio.create_task(read_data(stream, data))
    for piece in (b"Subject: a\r\n\r\nline\r", b"\n.", b".dot\r\n", b".", b"\r", b"\nQUIT\r\n"):
        stream.feed_data(piece)
        await asyncio.sleep(0)
    assert await reading is True
    assert data.content == b"Subject: a\r\n\r\nline\r\n.dot\r\n"
    stream.feed_eof()
    assert await stream.read() == b"QUIT\r\n"


async def test_a_stream_that_ends_mid_data_is_incomplete() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"Subject: cut off\r\n\r\nhalf a mess")
    stream.feed_eof()
    data = DataReader(line_limit=100)
    assert await read_data(stream, data) is False
    assert data.content is None
