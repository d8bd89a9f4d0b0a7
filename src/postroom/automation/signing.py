"""Standard Webhooks signatures: ``whsec_`` secrets, the signed headers, and their verification.

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``; the signature
is HMAC-SHA256 with the base64-decoded secret, sent base64-encoded as
``webhook-signature: v1,<signature>`` (several, space-separated, while a rotated
secret is still valid). ``verify_signature`` is the receiver's side, written so a
customer can copy its logic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

__all__ = ["SECRET_PREFIX", "SignatureError", "new_secret", "sign", "signature_headers", "verify_signature"]

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class SignatureError(Exception):
    """The request is not a valid signed webhook (the message says why)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise SignatureError("the secret is not whsec_ followed by base64") from exc


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secrets_: Iterable[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, webhook_id, timestamp, body) for s in secrets_),
    }


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance: float = 300, *, now: float | None = None
) -> None:
    """Raise ``SignatureError`` unless ``body`` was signed with ``secret`` less than ``tolerance`` seconds ago.

    ``headers`` must look names up case-insensitively (as HTTP frameworks' header
    objects do) or use lower-case names.
    """
    webhook_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature headers are required")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    # Refusing old (and far-future) timestamps stops a captured request from being replayed later.
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance")
    expected = sign(secret, webhook_id, sent_at, body).encode()
    for candidate in signatures.split(" "):
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureError("no signature matches")
