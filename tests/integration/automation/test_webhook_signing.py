"""Signatures interoperate with Standard Webhooks libraries, and verification refuses what it must."""

from __future__ import annotations

import time

import pytest

from postroom.automation.signing import SignatureError, new_secret, sign, signature_headers, verify_signature

# The published Standard Webhooks test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_published_vector_is_reproduced_and_verifies() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": f"v1,bm90IGl0 {VECTOR_SIGNATURE}",
    }
    verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 10)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(VECTOR_SECRET, headers, VECTOR_BODY)  # years old: a replay


def test_verification_refuses_tampering_missing_headers_and_other_secrets() -> None:
    secret, body = new_secret(), b'{"type":"email.sent"}'
    headers = signature_headers([secret], "evt_1", int(time.time()), body)
    verify_signature(secret, headers, body)
    cases = {
        "body": (secret, headers, body + b" "),
        "id": (secret, {**headers, "webhook-id": "evt_2"}, body),
        "secret": (new_secret(), headers, body),
        "future": (secret, {**headers, "webhook-timestamp": str(int(time.time()) + 3600)}, body),
        "missing": (secret, {"webhook-id": "evt_1"}, body),
        "timestamp": (secret, {**headers, "webhook-timestamp": "soon"}, body),
    }
    for name, (key, sent, payload) in cases.items():
        with pytest.raises(SignatureError):
            verify_signature(key, sent, payload)
            pytest.fail(f"accepted a request with a wrong {name}")


def test_secrets_are_random_whsec_base64() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_") and len(first) == len("whsec_") + 44
