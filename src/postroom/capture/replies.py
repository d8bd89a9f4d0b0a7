"""Every SMTP reply the capture server writes itself, in one place.

A reply is a code, an enhanced status code (RFC 3463) and a text. aiosmtpd writes its
own replies for protocol errors (syntax, sequence, size); the ones here are ours.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AUTH_ABORTED",
    "AUTH_BAD_BASE64",
    "AUTH_INVALID",
    "AUTH_MALFORMED",
    "AUTH_OK",
    "AUTH_REQUIRED",
    "MAIL_OK",
    "RCPT_OK",
    "STORE_UNAVAILABLE",
    "Reply",
    "chaos",
    "queued",
    "reply_code",
]


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    status: str  # enhanced status code, e.g. "2.0.0"
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"


MAIL_OK = Reply(250, "2.1.0", "Ok")
RCPT_OK = Reply(250, "2.1.5", "Ok")
STORE_UNAVAILABLE = Reply(451, "4.3.0", "Error: the message could not be stored, try again later")
AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
AUTH_INVALID = Reply(535, "5.7.8", "Authentication credentials invalid")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
AUTH_MALFORMED = Reply(501, "5.5.2", "Cannot split the authentication value")
AUTH_BAD_BASE64 = Reply(501, "5.5.2", "Cannot decode base64")
AUTH_ABORTED = Reply(501, "5.7.0", "Authentication aborted")


def queued(message_id: int) -> Reply:
    """The 250 after DATA; only sent once the message is committed."""
    return Reply(250, "2.0.0", f"Ok: queued as {message_id}")


def chaos(code: int) -> Reply:
    return Reply(code, f"{code // 100}.3.0", "Chaos: simulated failure")


def reply_code(line: bytes) -> int | None:
    """The code of a reply line, or None for a continuation line ("250-...") or a non-reply."""
    head = line[:4]
    if len(head) < 3 or not head[:3].isdigit() or head[3:4] == b"-":
        return None
    return int(head[:3])
