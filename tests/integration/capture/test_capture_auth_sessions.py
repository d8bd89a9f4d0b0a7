"""SMTP AUTH against a started app: accept-any, a credentials file, API keys, 530 and 535."""

from __future__ import annotations

import asyncio
import base64
import smtplib
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from tests.integration.capture.capture_support import connect, find, message, send, smtp_port
from tests.integration.capture.conftest import AppFactory

from postroom.app import Postroom
from postroom.auth.roles import Role
from postroom.auth.service import Principal


async def _tenant(app: Postroom, slug: str) -> int:
    return int((await app.auth.create_tenant(slug, slug.title()))["id"])


async def _api_key(app: Postroom, tenant_id: int, role: Role) -> str:
    issuer = Principal(tenant_id=tenant_id, role=Role.SUPER_ADMIN)
    key, _ = await app.auth.create_api_key(issuer, f"smtp-{role.value}", role)
    return key


def _login_with(port: int, mechanism: str, username: str, password: str, **tls: str) -> tuple[int, bytes]:
    with connect(port, **tls) as client:
        client.ehlo()
        client.user, client.password = username, password
        authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        return client.auth(mechanism, authobject)


async def test_no_auth_mode_does_not_offer_auth(app: Postroom) -> None:

    def features() -> bool:
        with connect(smtp_port(app)) as client:
            client.ehlo()
            return client.has_extn("auth")

    assert not await asyncio.to_thread(features)


async def test_any_mode_requires_auth_and_accepts_anything(start_app: AppFactory) -> None:
    app = await start_app(smtp_auth="any")
    port = smtp_port(app)

    def without_auth() -> tuple[int, bytes]:
        with connect(port) as client:
            client.ehlo()
            assert client.has_extn("auth") and "PLAIN" in client.esmtp_features["auth"]
            return client.mail("app@example.com")

    code, reply = await asyncio.to_thread(without_auth)
    assert (code, reply) == (530, b"5.7.0 Authentication required")
    code, _ = await send(port, message("any credentials"), login=("whoever", "whatever"))
    assert code == 250
    assert [item["subject"] for item in await find(app, "")] == ["any credentials"]


async def test_file_mode_checks_the_credentials_file(start_app: AppFactory, tmp_path: Path) -> None:
    users = tmp_path / "smtp-users"
    users.write_text(f"# senders\nalice:wonderland\nbob:{PasswordHasher().hash('hashed-pw')}\n", encoding="utf-8")
    app = await start_app(smtp_auth="file", smtp_auth_file=users)
    port = smtp_port(app)

    assert (await asyncio.to_thread(_login_with, port, "PLAIN", "alice", "wonderland"))[0] == 235
    assert (await asyncio.to_thread(_login_with, port, "LOGIN", "bob", "hashed-pw"))[0] == 235
    for username, password in [("alice", "wrong"), ("bob", "wonderland"), ("mallory", "wonderland")]:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            await send(port, message("refused"), login=(username, password))
        assert refused.value.smtp_code == 535

    # A user bound to another tenant, added while the server runs: its mail lands there.
    other = await _tenant(app, "staging")
    with users.open("a", encoding="utf-8") as handle:
        handle.write(f"carol:car0l:{other}\n")
    code, _ = await send(port, message("for staging"), login=("carol", "car0l"))
    assert code == 250
    code, _ = await send(port, message("for default"), login=("alice", "wonderland"))
    assert code == 250
    assert [item["subject"] for item in await find(app, "", tenant_id=other)] == ["for staging"]
    assert [item["subject"] for item in await find(app, "")] == ["for default"]


async def test_api_keys_route_mail_to_their_tenant(start_app: AppFactory) -> None:
    app = await start_app(smtp_auth="any")
    tenant = await _tenant(app, "team-a")
    developer = await _api_key(app, tenant, Role.DEVELOPER)
    viewer = await _api_key(app, tenant, Role.VIEWER)

    code, _ = await send(smtp_port(app), message("via api key"), login=("apikey", developer))
    assert code == 250
    assert [item["subject"] for item in await find(app, "", tenant_id=tenant)] == ["via api key"]
    assert await find(app, "") == []
    for refused_key in (viewer, developer + "x"):
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            await send(smtp_port(app), message("refused key"), login=("apikey", refused_key))
        assert refused.value.smtp_code == 535


async def test_auth_waits_for_tls_when_insecure_auth_is_off(start_app: AppFactory) -> None:
    app = await start_app(smtp_auth="any", smtp_tls="starttls", smtp_auth_allow_insecure=False)
    port = smtp_port(app)
    plain = base64.b64encode(b"\x00user\x00password").decode()

    def before_tls() -> tuple[bool, int]:
        with connect(port) as client:
            client.ehlo()
            return client.has_extn("auth"), client.docmd("AUTH", f"PLAIN {plain}")[0]

    assert await asyncio.to_thread(before_tls) == (False, 538)
    code, _ = await send(port, message("auth after starttls"), tls="starttls", login=("user", "password"))
    assert code == 250
