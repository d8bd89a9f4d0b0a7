"""Secrets at rest (provider credentials, DKIM keys, webhook secrets): Fernet with key rotation.

Keys come from ``POSTROOM_SECRET_KEYS`` (comma-separated, newest first; each any string,
stretched with HKDF). Without it, one key is derived from ``JWT_SECRET``. Encryption
always uses the first key; decryption tries them all, so a key can be rotated by
putting the new one first and re-encrypting at leisure.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"postroom secrets at rest v1"


class SecretError(ValueError):
    """A stored secret could not be decrypted with any configured key."""


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


class SecretBox:
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([Fernet(_fernet_key(s)) for s in secrets])

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SecretError("stored secret cannot be decrypted with the configured POSTROOM_SECRET_KEYS") from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt with the newest key."""
        return self._fernet.rotate(token)
