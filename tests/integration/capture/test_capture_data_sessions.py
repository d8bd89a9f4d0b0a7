"""DATA over raw sockets: pipelining after the end marker, disconnects, big stuffed messages, errors mid-session."""

from __future__ import annotations

import asyncio
import random

from tests.integration.capture.capture_support import find, message, send, smtp_port
from tests.integration.capture.conftest import AppFactory

from postroom.app import Postroom


class RawSession:
    """A hand-driven SMTP client: writes exactly the octets it is given."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawSession:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        session = cls(reader, writer)
        assert await session.reply() == 220
        session.writer.write(b"EHLO client.example\r\n")
        assert await session.reply() == 250
        return session

    async def reply(self) -> int:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 10)
            assert line, "the server closed the connection"
            if line[3:4] != b"-":
                return int(line[:3])

    async def replies(self, count: int) -> list[int]:
        return [await self.reply() for _ in range(count)]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def stuffed(raw: bytes) -> bytes:
    return (b"." if raw.startswith(b".") else b"") + raw.replace(b"\r\n.", b"\r\n..")


async def test_commands_pipelined_after_the_end_of_data_are_answered(app: Postroom) -> None:
    first, second = message("pipelined one"), message("pipelined two")
    session = await RawSession.open(smtp_port(app))
    session.writer.write(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
    assert await session.replies(3) == [250, 250, 354]
    # The end of one message, the next transaction and the start of its DATA in one write.
    session.writer.write(stuffed(first) + b".\r\nMAIL FROM:<c@example.com>\r\nRCPT TO:<d@example.com>\r\nDATA\r\n")
    assert await session.replies(4) == [250, 250, 250, 354]
    session.writer.write(stuffed(second) + b".\r\nQUIT\r\n")
    assert await session.replies(2) == [250, 221]
    await session.close()
    stored = {item["subject"]: item for item in await find(app, "subject:pipelined")}
    assert set(stored) == {"pipelined one", "pipelined two"}
    assert stored["pipelined two"]["envelope"] == {"from": "c@example.com", "to": ["d@example.com"]}
    assert await app.messages.raw(app.default_tenant_id, int(stored["pipelined one"]["id"])) == first


async def test_a_client_that_disconnects_mid_data_stores_nothing(app: Postroom) -> None:
    session = await RawSession.open(smtp_port(app))
    session.writer.write(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
    assert await session.replies(3) == [250, 250, 354]
    session.writer.write(b"Subject: cut off\r\n\r\nhalf of it\r\n.")
    await session.writer.drain()
    await session.close()
    code, _ = await send(smtp_port(app), message("after the disconnect"))
    assert code == 250
    assert [item["subject"] for item in await find(app, "")] == ["after the disconnect"]


async def test_a_big_message_sent_in_odd_pieces_is_stored_byte_for_byte(app: Postroom) -> None:
    rng = random.Random(5)
    lines = [
        rng.choice([b".", b"..", b"", b"x"])
        + rng.randbytes(rng.randint(0, 200)).replace(b"\r", b"").replace(b"\n", b"")
        for _ in range(20_000)
    ]
    raw = b"Subject: big and dotted\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
    wire = stuffed(raw) + b".\r\n"
    session = await RawSession.open(smtp_port(app))
    session.writer.write(b"MAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
    assert await session.replies(3) == [250, 250, 354]
    position = 0
    while position < len(wire):  # pieces that cut CRLFs, dots and the end marker anywhere
        step = rng.choice([1, 2, 3, 5, 4096, 65_537])
        session.writer.write(wire[position : position + step])
        await session.writer.drain()
        position += step
    assert await session.reply() == 250
    await session.close()
    (stored,) = await find(app, "subject:dotted")
    assert await app.messages.raw(app.default_tenant_id, int(stored["id"])) == raw


async def test_the_session_goes_on_after_a_refused_message(start_app: AppFactory) -> None:
    app = await start_app(smtp_max_message_bytes=2_000, smtp_max_line_bytes=500)
    session = await RawSession.open(smtp_port(app))
    for body, code in [(b"a" * 600 + b"\r\n", 500), ((b"b" * 60 + b"\r\n") * 50, 552)]:
        session.writer.write(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        assert await session.replies(3) == [250, 250, 354]
        session.writer.write(b"Subject: refused\r\n\r\n" + body + b".\r\n")
        assert await session.reply() == code
    session.writer.write(b"RCPT TO:<b@example.com>\r\n")
    assert await session.reply() == 503  # the refused transaction is over: MAIL comes first
    session.writer.write(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
    assert await session.replies(3) == [250, 250, 354]
    session.writer.write(b"Subject: accepted\r\n\r\nfits\r\n.\r\n")
    assert await session.reply() == 250
    await session.close()
    assert [item["subject"] for item in await find(app, "")] == ["accepted"]


async def test_data_before_rcpt_and_data_with_an_argument_are_refused(app: Postroom) -> None:
    session = await RawSession.open(smtp_port(app))
    session.writer.write(b"MAIL FROM:<a@example.com>\r\nDATA\r\n")
    assert await session.replies(2) == [250, 503]
    session.writer.write(b"RCPT TO:<b@example.com>\r\nDATA now\r\n")
    assert await session.replies(2) == [250, 501]
    await session.close()
