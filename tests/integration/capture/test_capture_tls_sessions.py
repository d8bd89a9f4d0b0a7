"""STARTTLS and implicit TLS with the generated development certificate."""

from __future__ import annotations

import asyncio
import socket

from tests.integration.capture.capture_support import connect, find, message, send, smtp_port, unverified_tls
from tests.integration.capture.conftest import AppFactory

from postroom.app import Postroom
from postroom.capture.tls import PEM_NAME


def _starttls_session(port: int) -> tuple[bool, str | None, dict[str, tuple[int, bytes]]]:
    with connect(port) as client:
        client.ehlo()
        offered = client.has_extn("starttls")
        client.starttls(context=unverified_tls())
        version = client.sock.version()  # type: ignore[union-attr]
        refused = client.sendmail("app@example.com", ["dev@example.com"], message("over starttls"))
        return offered, version, refused


async def test_starttls_with_the_generated_certificate(start_app: AppFactory) -> None:
    app = await start_app(smtp_tls="starttls", smtp_hostname="mail.postroom.test")
    pem = app.settings.storage_dir / "tls" / PEM_NAME
    assert pem.is_file()
    offered, version, refused = await asyncio.to_thread(_starttls_session, smtp_port(app))
    assert offered and version is not None and version.startswith("TLS")
    assert refused == {}
    assert [item["subject"] for item in await find(app, "")] == ["over starttls"]


async def test_the_certificate_is_made_once_and_reused(start_app: AppFactory) -> None:
    first = await start_app(smtp_tls="starttls")
    pem = first.settings.storage_dir / "tls" / PEM_NAME
    made = pem.read_bytes()
    await first.stop()
    second = await start_app(smtp_tls="implicit")
    assert pem.read_bytes() == made
    assert second.capture is not None


async def test_implicit_tls(start_app: AppFactory) -> None:
    app = await start_app(smtp_tls="implicit")
    code, _ = await send(smtp_port(app), message("over smtps"), tls="implicit")
    assert code == 250

    def plaintext_answer() -> bytes:
        with socket.create_connection(("127.0.0.1", smtp_port(app)), timeout=5) as sock:
            sock.sendall(b"EHLO plaintext.test\r\n")
            return sock.recv(1024)

    assert not (await asyncio.to_thread(plaintext_answer)).startswith(b"220")
    assert [item["subject"] for item in await find(app, "")] == ["over smtps"]


async def test_implicit_tls_with_auth(start_app: AppFactory) -> None:
    app: Postroom = await start_app(smtp_tls="implicit", smtp_auth="any", smtp_auth_allow_insecure=False)
    code, _ = await send(smtp_port(app), message("smtps auth"), tls="implicit", login=("u", "p"))
    assert code == 250
