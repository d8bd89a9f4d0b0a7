"""DKIM keys, their DNS records, signing with dkimpy and verification against the published record."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest

from postroom.mime.build import OutgoingMessage, build_message
from postroom.mime.dkim import DkimError, DkimKey, generate_key, load_key, sign_message, verify_message


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    return generate_key("example.com", "pr2026")


@pytest.fixture(scope="module")
def ed_key() -> DkimKey:
    return generate_key("example.com", "ed2026", "ed25519")


def dns_for(*keys: DkimKey) -> Callable[..., bytes | None]:
    """A dnsfunc answering with each key's TXT strings joined, as a resolver hands them over."""
    records = {f"{k.dns_name}.".encode(): "".join(k.txt_strings).encode() for k in keys}

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup


def message(**extra: object) -> bytes:
    fields: dict[str, object] = {
        "sender": "Shop <shop@example.com>",
        "to": ["Zoë <zoe@example.org>"],
        "subject": "Grüße aus dem Laden",
        "text": "Hello\n" * 50,
        "html": "<p>Hello</p>",
        "list_unsubscribe": ["https://t.example.com/u/abc"],
        "list_unsubscribe_post": True,
        **extra,
    }
    return build_message(OutgoingMessage(**fields)).raw  # type: ignore[arg-type]


def signature_tags(signed: bytes) -> dict[str, str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    match = re.match(r"DKIM-Signature: (.*?)\r\n(?! )", header, re.DOTALL)
    assert match is not None
    value = re.sub(r"\s+", "", match.group(1))
    return dict(item.split("=", 1) for item in value.split(";") if item)


def test_rsa_record_is_published_in_255_character_strings(rsa_key: DkimKey) -> None:
    assert rsa_key.dns_name == "pr2026._domainkey.example.com"
    assert rsa_key.dns_value.startswith("v=DKIM1; k=rsa; p=MIIB")
    assert len(rsa_key.txt_strings) == 2
    assert all(len(s) <= 255 for s in rsa_key.txt_strings)
    assert "".join(rsa_key.txt_strings) == rsa_key.dns_value
    assert rsa_key.zone_line.startswith('pr2026._domainkey.example.com. IN TXT ( "v=DKIM1; k=rsa; p=')
    assert rsa_key.private_key.startswith(b"-----BEGIN RSA PRIVATE KEY-----")


@pytest.mark.parametrize("which", ["rsa", "ed25519"])
def test_signed_messages_verify_with_dkimpy_and_tampering_breaks_them(
    which: str, rsa_key: DkimKey, ed_key: DkimKey
) -> None:
    key = rsa_key if which == "rsa" else ed_key
    raw = message()
    signed = sign_message(raw, key)
    assert signed.endswith(raw)
    lookup = dns_for(rsa_key, ed_key)
    assert dkim.verify(signed, dnsfunc=lookup)
    assert verify_message(signed, lookup)
    tags = signature_tags(signed)
    assert tags["a"] == ("rsa-sha256" if which == "rsa" else "ed25519-sha256")
    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "example.com"
    assert tags["s"] == key.selector
    assert not verify_message(signed.replace(b"Hello\r\n", b"Hallo\r\n", 1), lookup)
    assert not verify_message(signed.replace(b"Subject: ", b"Subject: Re: ", 1), lookup)
    assert not verify_message(signed, dns_for(generate_key("example.com", key.selector, which)))


def test_relaxed_canonicalisation_survives_rewrapped_headers(rsa_key: DkimKey) -> None:
    signed = sign_message(message(), rsa_key)
    rewrapped = signed.replace(b"\r\nTo: ", b"\r\nTo:    ", 1)
    assert verify_message(rewrapped, dns_for(rsa_key))


def test_signed_header_list_covers_what_the_message_has(rsa_key: DkimKey) -> None:
    raw = message(cc=["c@example.org"], reply_to=["help@example.com"])
    signed_headers = signature_tags(sign_message(raw, rsa_key))["h"].lower().split(":")
    for name in (
        "from",
        "to",
        "cc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
    ):
        assert name in signed_headers
    assert signed_headers.count("from") == 2  # signed again so a second From breaks the signature
    assert "references" not in signed_headers  # absent headers are not listed
    with_second_from = sign_message(raw, rsa_key).replace(b"\r\nTo:", b"\r\nFrom: evil@example.net\r\nTo:", 1)
    assert not verify_message(with_second_from, dns_for(rsa_key))


def test_keys_round_trip_through_storage(rsa_key: DkimKey, ed_key: DkimKey) -> None:
    assert load_key("example.com", "pr2026", rsa_key.private_key) == rsa_key
    assert load_key("example.com", "ed2026", ed_key.private_key) == ed_key


def test_bad_keys_and_names_are_refused() -> None:
    with pytest.raises(DkimError, match="2048"):
        generate_key("example.com", "s", bits=1024)
    with pytest.raises(DkimError, match="algorithm"):
        generate_key("example.com", "s", "dsa")
    with pytest.raises(DkimError, match="DNS name"):
        generate_key("example.com", "bad selector")
    with pytest.raises(DkimError, match="DNS name"):
        generate_key("exa mple.com", "s")
    with pytest.raises(DkimError):
        load_key("example.com", "s", b"-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(DkimError, match="32 bytes"):
        load_key("example.com", "s", b"c2hvcnQ=")
    with pytest.raises(DkimError, match="From"):
        sign_message(b"To: a@example.org\r\nSubject: x\r\n\r\nbody\r\n", generate_key("example.com", "s", "ed25519"))


def test_rfc_8463_ed25519_key_gives_the_published_public_key(corpus: Path) -> None:
    data = corpus / "dkimpy-testdata"
    key = load_key("football.example.com", "brisbane", (data / "ed25519test.key").read_bytes())
    published = dict(
        item.strip().split("=", 1) for item in (data / "ed25519test.dns").read_text().split(";") if item.strip()
    )
    assert key.public_key == published["p"]
    assert key.dns_value == f"v=DKIM1; k=ed25519; p={published['p']}"


@pytest.mark.parametrize("name", ["email1.msg", "email2.msg"])
def test_body_hash_matches_postal_signing_vectors(corpus: Path, name: str) -> None:
    text = (corpus / "postal-dkim-signing" / name).read_text()
    front, body = text.split("\n---\n", 1)
    private = "\n".join(
        line.strip() for line in front.split("private_key: |\n", 1)[1].splitlines() if line.startswith("  ")
    )
    meta = dict(line.split(": ", 1) for line in front.splitlines() if re.match(r"^(domain|dkim_identifier|bh): ", line))
    raw = body.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    raw = re.sub(rb"^DKIM-Signature:.*?\r\n(?! )", b"", raw, flags=re.DOTALL)
    key = load_key(meta["domain"], meta["dkim_identifier"], (private + "\n").encode())
    signed = sign_message(raw, key)
    assert signature_tags(signed)["bh"] == meta["bh"]
    assert verify_message(signed, dns_for(key))
