"""SMTP DATA read in large chunks instead of line by line.

aiosmtpd awaits ``readuntil(b"\\r\\n")`` once per line and then inspects every line in
Python; for a message with a base64 attachment that is hundreds of awaits. Here each
read takes whatever the socket delivered, and the work per chunk is a few C-level byte
searches: the end marker, the line cap, the size limit, and one ``replace`` for the
dot-unstuffing at the end. The semantics stay those of aiosmtpd (RFC 5321 4.5.2):

* only ``<CRLF>.<CRLF>`` ends the data (a bare LF or CR next to a dot is content, which
  is what defeats SMTP smuggling); ``.<CRLF>`` right after the 354 ends an empty message;
* a line (as sent, with its CRLF and any transparency dot) longer than ``line_limit``
  answers 500, more than ``size_limit`` octets (as sent, before the final ``.<CRLF>``)
  answers 552; either reply waits for the end of the data, whose octets are dropped
  once it is known to fail;
* whatever follows the end marker (pipelined commands) stays in the stream for the
  command loop.
"""

from __future__ import annotations

import asyncio
import enum

__all__ = ["END_OF_DATA", "DataError", "DataReader", "read_data", "unstuff"]

END_OF_DATA = b"\r\n.\r\n"
CRLF = b"\r\n"
READ_SIZE = 1 << 20
# The bytes a discarded buffer keeps: an end marker may start in them.
_KEEP = len(END_OF_DATA) - 1
# The buffer starts with the DATA command's own CRLF, so ".\r\n" right after the 354
# is found by the same search as every later end marker.
_BASE = len(CRLF)


class DataError(enum.Enum):
    LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
    TOO_MUCH_DATA = "552 Error: Too much mail data"


def unstuff(stuffed: bytes) -> bytes:
    """Undo dot-stuffing: every line that starts with a dot loses that dot."""
    if stuffed.startswith(b"."):
        stuffed = stuffed[1:]
    return stuffed.replace(b"\r\n.", b"\r\n")


class DataReader:
    """Collects one message's DATA from the chunks fed to it, as they came off the socket."""

    def __init__(self, *, line_limit: int, size_limit: int | None = None) -> None:
        self.line_limit = line_limit
        self.size_limit = size_limit or None
        self.error: DataError | None = None
        self.content: bytes | None = None
        self._buf = bytearray(CRLF)
        self._searched = 0  # no end marker starts before this offset of _buf
        self._line = _BASE  # a line start; every line before it fits line_limit

    def feed(self, chunk: bytes) -> int | None:
        """Take the next octets. Once the end marker is in, returns how many octets of
        ``chunk`` were DATA (the rest belongs to the command stream); until then None."""
        buf = self._buf
        before = len(buf)
        buf += chunk
        end = buf.find(END_OF_DATA, self._searched)
        if end < 0:
            self._searched = max(len(buf) - _KEEP, 0)
            if self.error is None:
                # At most ".\r" of what is buffered can turn out to be the end marker.
                self._check(len(buf), len(buf) - _BASE - 2)
            if self.error is not None:
                keep = bytes(buf[-_KEEP:])
                buf.clear()
                buf += keep
                self._searched = 0
            return None
        content_end = end + len(CRLF)
        if self.error is None:
            self._check(content_end, content_end - _BASE)
            if self.error is None:
                self.content = unstuff(bytes(memoryview(buf)[_BASE:content_end]))
        self._buf = bytearray()
        return end + len(END_OF_DATA) - before

    def _check(self, upto: int, size: int) -> None:
        """Flag a line over the cap in _buf[:upto], then content over the size limit."""
        buf, limit, start = self._buf, self.line_limit, self._line
        # A window of `limit` octets without a CRLF inside is a line over the cap; else
        # every line up to the window's last CRLF fits. About one search per window.
        while upto - start > limit:
            crlf = buf.rfind(CRLF, start, start + limit)
            if crlf < 0:
                self.error = DataError.LINE_TOO_LONG
                return
            start = crlf + len(CRLF)
        self._line = start
        if self.size_limit is not None and size > self.size_limit:
            self.error = DataError.TOO_MUCH_DATA


async def read_data(reader: asyncio.StreamReader, data: DataReader) -> bool:
    """Feed ``data`` from ``reader`` up to the end marker; False when the stream ended first."""
    while True:
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            return False
        used = data.feed(chunk)
        if used is not None:
            if used < len(chunk):
                # Put back what follows the end marker, ahead of anything buffered since.
                # aiosmtpd itself reaches into the same buffer (on STARTTLS).
                reader._buffer[:0] = chunk[used:]  # type: ignore[attr-defined]
            return True
