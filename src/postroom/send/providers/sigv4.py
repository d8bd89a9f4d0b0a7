"""AWS Signature Version 4 for one HTTP request (header authorization, the form the SES API takes).

The steps are AWS's documented ones: a canonical request, a string to sign over its hash,
a signing key derived from the secret by date, region and service, and the signature
placed in the ``Authorization`` header. ``tests/unit/send/test_sigv4.py`` checks them
against AWS's published example values.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_UNRESERVED = "-_.~"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def _hmac(key: bytes, data: str) -> bytes:
    return hmac.new(key, data.encode(), hashlib.sha256).digest()


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = _hmac(("AWS4" + secret_access_key).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _encode(value: str) -> str:
    return quote(value, safe=_UNRESERVED)


def canonical_uri(path: str) -> str:
    """The path as sent on the wire, URI-encoded once more (every service but S3 double-encodes)."""
    return quote(path or "/", safe="/" + _UNRESERVED)


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in sorted(pairs))


def _header_value(value: str) -> str:
    return " ".join(value.strip().split())


def canonical_request(method: str, url: str, headers: Mapping[str, str], payload_hash: str) -> tuple[str, str]:
    """(canonical request, signed header names) for a request whose headers include Host."""
    parts = urlsplit(url)
    folded: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower().strip()
        folded[key] = f"{folded[key]},{_header_value(value)}" if key in folded else _header_value(value)
    names = sorted(folded)
    signed_headers = ";".join(names)
    lines = [
        method.upper(),
        canonical_uri(parts.path),
        canonical_query(parts.query),
        "".join(f"{name}:{folded[name]}\n" for name in names),
        signed_headers,
        payload_hash,
    ]
    return "\n".join(lines), signed_headers


def string_to_sign(amz_date: str, scope: str, request: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to send: ``headers`` plus Host, X-Amz-Date, the session token and Authorization.

    Every header passed in is signed, so pass only the ones that go on the wire unchanged.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed = {name: value for name, value in headers.items()}
    lowered = {name.lower() for name in signed}
    if "host" not in lowered:
        signed["Host"] = urlsplit(url).netloc
    if "x-amz-date" not in lowered:
        signed["X-Amz-Date"] = amz_date
    if credentials.session_token and "x-amz-security-token" not in lowered:
        signed["X-Amz-Security-Token"] = credentials.session_token
    request, signed_headers = canonical_request(method, url, signed, hashlib.sha256(body).hexdigest())
    scope = f"{date}/{region}/{service}/aws4_request"
    key = signing_key(credentials.secret_access_key, date, region, service)
    signature = hmac.new(key, string_to_sign(amz_date, scope, request).encode(), hashlib.sha256).hexdigest()
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return signed
