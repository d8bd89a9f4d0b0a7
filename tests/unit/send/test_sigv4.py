"""AWS Signature Version 4 against the example values AWS publishes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from postroom.send.providers.sigv4 import Credentials, canonical_query, canonical_request, sign, signing_key

EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
AUG_30_2015 = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
EMPTY_HASH = hashlib.sha256(b"").hexdigest()


def test_signing_key_matches_the_documented_derivation_example() -> None:
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_iam_list_users_example_canonical_request_and_signature() -> None:
    url = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
    content_type = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    request, signed_headers = canonical_request(
        "GET", url, {**content_type, "Host": "iam.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}, EMPTY_HASH
    )
    assert signed_headers == "content-type;host;x-amz-date"
    assert hashlib.sha256(request.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )
    headers = sign(
        "GET", url, content_type, b"", credentials=EXAMPLE, region="us-east-1", service="iam", now=AUG_30_2015
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z" and headers["Host"] == "iam.amazonaws.com"


def test_test_suite_get_vanilla() -> None:
    headers = sign(
        "GET",
        "https://example.amazonaws.com/",
        {},
        b"",
        credentials=EXAMPLE,
        region="us-east-1",
        service="service",
        now=AUG_30_2015,
    )
    assert headers["Authorization"].endswith(
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_the_body_and_the_session_token_are_signed() -> None:
    url = "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
    signatures = {
        sign("POST", url, {}, body, credentials=EXAMPLE, region="eu-west-1", service="ses", now=AUG_30_2015)[
            "Authorization"
        ]
        for body in (b'{"a":1}', b'{"a":2}')
    }
    assert len(signatures) == 2
    temporary = Credentials("AKIDEXAMPLE", EXAMPLE.secret_access_key, session_token="token/with+chars")
    signed = sign("POST", url, {}, b"", credentials=temporary, region="eu-west-1", service="ses", now=AUG_30_2015)
    assert signed["X-Amz-Security-Token"] == "token/with+chars"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in signed["Authorization"]


def test_query_strings_are_sorted_and_percent_encoded() -> None:
    assert canonical_query("b=2&a=x y&c=%2F&a=1") == "a=1&a=x%20y&b=2&c=%2F"
    assert canonical_query("") == ""


def test_header_values_are_trimmed_and_inner_spaces_collapsed() -> None:
    request, _ = canonical_request(
        "GET", "https://example.amazonaws.com/", {"Host": "example.amazonaws.com", "My-Header1": "  a   b   c  "}, "x"
    )
    assert "my-header1:a b c\n" in request
