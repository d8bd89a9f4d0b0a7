"""DKIM keys, the DNS record to publish for them, and signing with dkimpy (RFC 6376, RFC 8463).

How to call it::

    key = generate_key("example.com", "pr2026")  # RSA 2048; algorithm="ed25519" for RFC 8463
    key.dns_name  # "pr2026._domainkey.example.com"
    key.dns_value  # "v=DKIM1; k=rsa; p=MIIB..."
    key.txt_strings  # the value cut into strings of at most 255 characters, as TXT records hold it
    store(key.private_key)  # bytes: PEM for RSA, base64 seed for Ed25519
    key = load_key("example.com", "pr2026", stored_private_key)
    signed = sign_message(raw, key)  # raw with a DKIM-Signature header in front

Signatures are relaxed/relaxed over ``SIGNED_HEADERS`` that are present in the message; From is
always signed, and signed once more so that a second From cannot be added in transit.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dkim  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

__all__ = [
    "SIGNED_HEADERS",
    "DkimError",
    "DkimKey",
    "generate_key",
    "load_key",
    "sign_message",
    "verify_message",
]

SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
)
_TXT_STRING = 255


class DkimError(ValueError):
    """A key could not be made, read or used, or a message could not be signed."""


@dataclass(frozen=True, slots=True)
class DkimKey:
    domain: str
    selector: str
    algorithm: str  # "rsa" or "ed25519"
    private_key: bytes = field(repr=False)  # PEM (PKCS#1) for RSA; base64 of the 32-byte seed for Ed25519
    public_key: str  # base64, the p= tag

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def dns_value(self) -> str:
        return f"v=DKIM1; k={self.algorithm}; p={self.public_key}"

    @property
    def txt_strings(self) -> tuple[str, ...]:
        value = self.dns_value
        return tuple(value[i : i + _TXT_STRING] for i in range(0, len(value), _TXT_STRING))

    @property
    def zone_line(self) -> str:
        """The record in zone-file syntax, e.g. for a BIND zone or a DNS provider's import."""
        strings = " ".join(f'"{s}"' for s in self.txt_strings)
        return f"{self.dns_name}. IN TXT ( {strings} )"


def _check_names(domain: str, selector: str) -> None:
    for what, value in (("domain", domain), ("selector", selector)):
        labels = value.split(".")
        if not value or not value.isascii() or any(not label or len(label) > 63 for label in labels):
            raise DkimError(f"{what} {value!r} is not a valid DNS name")
        if any(not (c.isalnum() or c in "-_") for c in value.replace(".", "")):
            raise DkimError(f"{what} {value!r} is not a valid DNS name")


def _rsa_key(domain: str, selector: str, private: rsa.RSAPrivateKey) -> DkimKey:
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(domain, selector, "rsa", pem, base64.b64encode(public).decode("ascii"))


def _ed25519_key(domain: str, selector: str, private: ed25519.Ed25519PrivateKey) -> DkimKey:
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return DkimKey(domain, selector, "ed25519", base64.b64encode(seed), base64.b64encode(public).decode("ascii"))


def generate_key(domain: str, selector: str, algorithm: str = "rsa", bits: int = 2048) -> DkimKey:
    """A new key pair. RSA keys below 2048 bits are refused (RFC 8301 requires at least 1024)."""
    _check_names(domain, selector)
    if algorithm == "rsa":
        if bits < 2048:
            raise DkimError("RSA DKIM keys must have at least 2048 bits")
        return _rsa_key(domain, selector, rsa.generate_private_key(public_exponent=65537, key_size=bits))
    if algorithm == "ed25519":
        return _ed25519_key(domain, selector, ed25519.Ed25519PrivateKey.generate())
    raise DkimError(f"unknown DKIM key algorithm {algorithm!r} (use 'rsa' or 'ed25519')")


def load_key(domain: str, selector: str, private_key: bytes) -> DkimKey:
    """Read a stored private key: RSA PEM (PKCS#1 or PKCS#8), Ed25519 PEM, or a base64 Ed25519 seed."""
    _check_names(domain, selector)
    data = private_key.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            loaded = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise DkimError(f"cannot read the private key: {exc}") from None
        if isinstance(loaded, rsa.RSAPrivateKey):
            return _rsa_key(domain, selector, loaded)
        if isinstance(loaded, ed25519.Ed25519PrivateKey):
            return _ed25519_key(domain, selector, loaded)
        raise DkimError("only RSA and Ed25519 keys can sign DKIM")
    try:
        seed = base64.b64decode(data, validate=True)
    except ValueError:
        raise DkimError("the private key is neither PEM nor a base64 Ed25519 seed") from None
    if len(seed) != 32:
        raise DkimError("an Ed25519 seed must be 32 bytes")
    return _ed25519_key(domain, selector, ed25519.Ed25519PrivateKey.from_private_bytes(seed))


def _present_headers(raw: bytes, wanted: Sequence[str]) -> list[bytes]:
    end = raw.find(b"\r\n\r\n")
    head = raw[: end if end >= 0 else len(raw)]
    names = {line.split(b":", 1)[0].strip().lower() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")}
    present = [name.encode("ascii") for name in wanted if name.lower().encode("ascii") in names]
    if b"From" not in present:
        raise DkimError("the message has no From header, which DKIM must sign")
    return [*present, b"From"]


def sign_message(raw: bytes, key: DkimKey, headers: Sequence[str] = SIGNED_HEADERS) -> bytes:
    """``raw`` (CRLF line endings) with a DKIM-Signature header added in front."""
    algorithm = b"rsa-sha256" if key.algorithm == "rsa" else b"ed25519-sha256"
    try:
        signature: bytes = dkim.sign(
            raw,
            key.selector.encode("ascii"),
            key.domain.encode("ascii"),
            key.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=algorithm,
            include_headers=_present_headers(raw, headers),
        )
    except dkim.DKIMException as exc:
        raise DkimError(f"cannot sign: {exc}") from None
    return signature + raw


DnsFunc = Callable[..., bytes | None]


def verify_message(raw: bytes, dnsfunc: DnsFunc | None = None) -> bool:
    """True when the topmost DKIM signature verifies; ``dnsfunc(name, timeout=...)`` returns the TXT."""
    try:
        if dnsfunc is None:
            return bool(dkim.verify(raw))
        return bool(dkim.verify(raw, dnsfunc=dnsfunc))
    except dkim.DKIMException:
        return False
