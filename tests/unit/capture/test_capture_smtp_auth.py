from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

from postroom.auth.roles import Role
from postroom.auth.service import Principal
from postroom.capture.smtp_auth import (
    Credential,
    CredentialsFile,
    CredentialsFileError,
    SmtpAuthenticator,
    SmtpLogin,
    parse_credentials,
)
from postroom.config import ConfigError

DEFAULT_TENANT = 1
DEV_KEY = "pr_" + "d" * 40
VIEWER_KEY = "pr_" + "v" * 40


def test_parse_credentials_reads_users_hashes_and_tenants() -> None:
    text = """
# staging senders
alice:wonderland
bob:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA:7

carol:pa:ss
dave:with:colon:9
"""
    assert parse_credentials(text) == {
        "alice": Credential("alice", "wonderland"),
        "bob": Credential("bob", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", 7),
        "carol": Credential("carol", "pa:ss"),
        "dave": Credential("dave", "with:colon", 9),
    }
    assert parse_credentials(text)["bob"].is_hashed


@pytest.mark.parametrize(("text", "line"), [("nopassword", 1), ("ok:1\n:nouser", 2), ("a:b\na:c", 2), ("x:", 1)])
def test_parse_credentials_names_the_bad_line(text: str, line: int) -> None:
    with pytest.raises(CredentialsFileError, match=f"line {line}"):
        parse_credentials(text)


def test_credentials_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "smtp-users"
    path.write_text("alice:one\n", encoding="utf-8")
    credentials = CredentialsFile(path)
    assert credentials.get()["alice"].secret == "one"
    path.write_text("alice:two-longer\n", encoding="utf-8")
    assert credentials.get()["alice"].secret == "two-longer"


def test_a_missing_credentials_file_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POSTROOM_SMTP_AUTH_FILE"):
        CredentialsFile(tmp_path / "absent")
    with pytest.raises(ConfigError):
        SmtpAuthenticator("file", default_tenant_id=DEFAULT_TENANT)


async def _resolve(secret: str) -> Principal | None:
    """A stand-in for AuthService.resolve_api_key: two known keys."""
    roles = {DEV_KEY: Role.DEVELOPER, VIEWER_KEY: Role.VIEWER}
    return Principal(tenant_id=5, role=roles[secret], api_key_id=1, via="api_key") if secret in roles else None


@pytest.fixture
def credentials(tmp_path: Path) -> CredentialsFile:
    path = tmp_path / "smtp-users"
    hashed = PasswordHasher().hash("s3cret")
    path.write_text(f"alice:wonderland\nbob:{hashed}:3\n", encoding="utf-8")
    return CredentialsFile(path)


async def test_file_mode_checks_plain_and_argon2_passwords(credentials: CredentialsFile) -> None:
    auth = SmtpAuthenticator("file", default_tenant_id=DEFAULT_TENANT, credentials=credentials)
    assert auth.required
    assert await auth.authenticate("alice", "wonderland") == SmtpLogin("alice", DEFAULT_TENANT, "file")
    assert await auth.authenticate("bob", "s3cret") == SmtpLogin("bob", 3, "file")
    assert await auth.authenticate("alice", "wrong") is None
    assert await auth.authenticate("bob", "wrong") is None
    assert await auth.authenticate("nobody", "wonderland") is None


async def test_any_mode_accepts_every_password() -> None:
    auth = SmtpAuthenticator("any", default_tenant_id=DEFAULT_TENANT)
    assert await auth.authenticate("who", "ever") == SmtpLogin("who", DEFAULT_TENANT, "any")


async def test_none_mode_is_not_required_but_tolerates_auth() -> None:
    auth = SmtpAuthenticator("none", default_tenant_id=DEFAULT_TENANT)
    assert not auth.required
    assert await auth.authenticate("who", "ever") == SmtpLogin("who", DEFAULT_TENANT, "any")


@pytest.mark.parametrize("mode", ["none", "any", "file"])
async def test_api_keys_route_to_their_tenant_in_every_mode(mode: str, credentials: CredentialsFile) -> None:
    auth = SmtpAuthenticator(
        mode,  # type: ignore[arg-type]
        default_tenant_id=DEFAULT_TENANT,
        credentials=credentials,
        resolve_api_key=_resolve,
    )
    assert await auth.authenticate("apikey", DEV_KEY) == SmtpLogin("apikey", 5, "api_key")
    assert await auth.authenticate("apikey", VIEWER_KEY) is None  # below developer
    assert await auth.authenticate("apikey", "pr_" + "x" * 40) is None  # unknown or revoked
