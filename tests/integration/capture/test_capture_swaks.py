"""The capture server driven by swaks, a widely used SMTP test client."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from tests.integration.capture.capture_support import find, smtp_port
from tests.integration.capture.conftest import AppFactory

pytestmark = pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (apt install swaks)")


def _swaks(port: int, subject: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        "swaks", "--server", f"127.0.0.1:{port}", "--from", "app@example.com",
        "--to", "dev+swaks@example.com", "--header", f"Subject: {subject}", "--body", "sent by swaks",
        "--timeout", "10", *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(
    ("settings_overrides", "extra"),
    [
        ({}, ()),
        ({"smtp_tls": "starttls"}, ("--tls",)),
        ({"smtp_tls": "implicit"}, ("--tls-on-connect",)),
        ({"smtp_auth": "any"}, ("--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p")),
        (
            {"smtp_auth": "any", "smtp_tls": "starttls", "smtp_auth_allow_insecure": False},
            ("--tls", "--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p"),
        ),
    ],
    ids=["plain", "starttls", "implicit-tls", "auth-plain", "starttls-auth-login"],
)
async def test_swaks_delivers(
    start_app: AppFactory, settings_overrides: dict[str, object], extra: tuple[str, ...]
) -> None:
    app = await start_app(**settings_overrides)
    done = await asyncio.to_thread(_swaks, smtp_port(app), "hello from swaks", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    (stored,) = await find(app, 'subject:"hello from swaks"')
    assert stored["tags"] == ["swaks"]
    assert stored["envelope"] == {"from": "app@example.com", "to": ["dev+swaks@example.com"]}


async def test_swaks_without_auth_is_refused_when_auth_is_required(start_app: AppFactory) -> None:
    app = await start_app(smtp_auth="any")
    done = await asyncio.to_thread(_swaks, smtp_port(app), "no auth")
    assert done.returncode != 0
    assert "530 5.7.0 Authentication required" in done.stdout
    assert await find(app, "") == []
