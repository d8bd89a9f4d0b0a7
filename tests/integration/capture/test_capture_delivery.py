"""Messages sent with smtplib to a started app: stored before the 250, with envelope, tags and flags."""

from __future__ import annotations

import asyncio
import smtplib
from functools import partial

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from tests.integration.capture.capture_support import connect, find, in_threads, message, send, send_sync, smtp_port
from tests.integration.capture.conftest import AppFactory

from postroom.app import Postroom
from postroom.store.ingest_connections import APPLICATION_NAME


async def test_the_250_comes_after_the_commit(app: Postroom) -> None:
    raw = message("Committed before the reply", to="Dev <dev+signup@example.com>", X_Tags="alpha, beta")
    code, reply = await send(
        smtp_port(app), raw, sender="app@example.com", to=["dev+signup@example.com", "ops@example.com"]
    )
    found = await find(app, 'subject:"Committed before the reply"')  # no waiting: it must be there
    assert len(found) == 1
    stored = found[0]
    assert (code, reply.decode()) == (250, f"2.0.0 Ok: queued as {stored['id']}")
    assert stored["envelope"] == {"from": "app@example.com", "to": ["dev+signup@example.com", "ops@example.com"]}
    assert set(stored["tags"]) == {"signup", "alpha", "beta"}
    assert stored["flags"] == []
    assert await app.messages.raw(app.default_tenant_id, int(stored["id"])) == raw


async def test_a_null_sender_is_stored_with_an_empty_envelope_from(app: Postroom) -> None:
    code, _ = await send(smtp_port(app), message("bounce"), sender="<>")
    assert code == 250
    (stored,) = await find(app, "subject:bounce")
    assert stored["envelope"] == {"from": "", "to": ["dev@example.com"]}


async def test_concurrent_sessions_are_all_stored(start_app: AppFactory) -> None:
    app = await start_app(workers=True)
    port = smtp_port(app)

    def session(number: int) -> list[int]:
        codes = []
        with connect(port) as client:
            for index in range(5):
                raw = message(f"burst {number}-{index}")
                client.sendmail("app@example.com", [f"user{number}@example.com"], raw)
                codes.append(client.noop()[0])
        return codes

    results = await in_threads(*(partial(session, n) for n in range(20)))
    assert all(code == 250 for codes in results for code in codes)
    found = await find(app, "subject:burst")
    assert len(found) == 100
    assert {item["subject"] for item in found} == {f"burst {n}-{i}" for n in range(20) for i in range(5)}


async def test_a_message_over_the_size_limit_gets_552(start_app: AppFactory) -> None:
    app = await start_app(smtp_max_message_bytes=10_000)
    port = smtp_port(app)
    big = message("too big", body=("x" * 70 + "\n") * 200)  # about 14 kB

    def declared() -> None:
        with connect(port) as client:
            client.sendmail("app@example.com", ["dev@example.com"], big)

    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await asyncio.to_thread(declared)
    assert refused.value.smtp_code == 552

    def undeclared() -> tuple[int, bytes]:
        with connect(port) as client:
            client.ehlo()
            client.mail("app@example.com")
            client.rcpt("dev@example.com")
            return client.data(big)

    code, _ = await asyncio.to_thread(undeclared)
    assert code == 552
    code, _ = await send(port, message("small enough"))
    assert code == 250
    assert [item["subject"] for item in await find(app, "")] == ["small enough"]


async def test_long_lines_are_accepted_and_flagged(start_app: AppFactory) -> None:
    app = await start_app(smtp_max_line_bytes=8_000)
    port = smtp_port(app)
    long_line = b"Subject: long line\r\n\r\n" + b"y" * 5_000 + b"\r\nshort\r\n"
    code, _ = await send(port, long_line)
    assert code == 250
    (stored,) = await find(app, "subject:long")
    assert stored["flags"] == ["long-lines"]
    assert await app.messages.raw(app.default_tenant_id, int(stored["id"])) == long_line

    code, reply = await send(port, b"Subject: over the cap\r\n\r\n" + b"z" * 9_000 + b"\r\n")
    assert code == 500 and b"too long" in reply.lower()
    assert await find(app, "subject:cap") == []


async def test_command_lines_fit_even_with_a_small_line_cap(start_app: AppFactory) -> None:
    app = await start_app(smtp_max_line_bytes=100)
    sender = "a" * 60 + "@" + "b" * 300 + ".example.com"  # a MAIL line of about 380 octets
    code, _ = await send(smtp_port(app), b"Subject: tiny cap\r\n\r\nok\r\n", sender=sender)
    assert code == 250
    code, _ = await send(smtp_port(app), b"Subject: tiny cap 2\r\n\r\n" + b"q" * 150 + b"\r\n")
    assert code == 500


async def test_bare_lf_and_cr_dots_do_not_end_the_message(app: Postroom) -> None:
    """SMTP smuggling: only <CRLF>.<CRLF> ends DATA, so a second message cannot hide in the first."""
    port = smtp_port(app)
    body = (
        b"From: app@example.com\r\nTo: dev@example.com\r\nSubject: smuggling attempt\r\n\r\n"
        b"first\n.\nMAIL FROM:<evil@example.net>\r\n"
        b"RCPT TO:<victim@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond\r.\r"
        b"third\n.\r\nQUIT\r\n"
    )

    def smuggle() -> tuple[int, bytes]:
        with connect(port) as client:
            client.ehlo()
            client.mail("app@example.com")
            client.rcpt("dev@example.com")
            assert client.docmd("DATA")[0] == 354
            client.send(body + b".\r\n")  # written as is: smtplib.data() would rewrite the dots
            return client.getreply()

    code, _ = await asyncio.to_thread(smuggle)
    assert code == 250
    stored = await find(app, "")
    assert [item["subject"] for item in stored] == ["smuggling attempt"]
    raw = await app.messages.raw(app.default_tenant_id, int(stored[0]["id"]))
    assert raw == body
    for sequence in (b"\n.\n", b"\r.\r", b"\n.\r\n"):
        assert sequence in raw


async def test_smtputf8_addresses_and_subject(app: Postroom) -> None:
    raw = "From: jörg@exämple.de\r\nTo: zoë@exämple.de\r\nSubject: Grüße aus Köln ✓\r\n\r\nHallo\r\n".encode()
    code, _ = await send(
        smtp_port(app), raw, sender="jörg@exämple.de", to=["zoë+grüße@exämple.de"], mail_options=["SMTPUTF8"]
    )
    assert code == 250
    (stored,) = await find(app, "")
    assert stored["subject"] == "Grüße aus Köln ✓"
    assert stored["envelope"] == {"from": "jörg@exämple.de", "to": ["zoë+grüße@exämple.de"]}
    assert stored["tags"] == ["grüße"]


async def test_8bitmime_body_is_kept_byte_for_byte(app: Postroom) -> None:
    raw = (
        b"From: app@example.com\r\nSubject: eight bit\r\nContent-Type: text/plain; charset=latin-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nK\xf6ln \xe9t\xe9 \xff\r\n"
    )
    code, _ = await send(smtp_port(app), raw, mail_options=["BODY=8BITMIME"])
    assert code == 250
    (stored,) = await find(app, "subject:eight")
    assert await app.messages.raw(app.default_tenant_id, int(stored["id"])) == raw


async def test_a_store_failure_answers_451_and_recovers(app: Postroom) -> None:
    """The messages table is renamed away for real; the sender must be told to retry."""
    async with app.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE messages RENAME TO messages_away"))
    code, reply = await send(smtp_port(app), message("while the store is down"))
    assert code == 451 and reply.startswith(b"4.3.0")
    async with app.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE messages_away RENAME TO messages"))
    code, _ = await send(smtp_port(app), message("after recovery"))
    assert code == 250
    assert [item["subject"] for item in await find(app, "")] == ["after recovery"]


async def test_a_failed_blob_write_commits_nothing_and_the_retry_uses_a_new_segment(app: Postroom) -> None:
    code, _ = await send(smtp_port(app), message("first"))
    assert code == 250
    lost = app.blobs.current_segment
    assert lost is not None
    app.blobs.path_of(lost).unlink()  # the segment being appended to vanishes (disk trouble)
    raw = message("written again")
    code, reply = await send(smtp_port(app), raw)
    assert code == 451 and reply.startswith(b"4.3.0")  # the sender keeps it and retries
    code, _ = await send(smtp_port(app), raw)
    assert code == 250
    # No row of the failed attempt points at bytes that were never written.
    (stored,) = await find(app, "subject:again")
    assert await app.messages.raw(app.default_tenant_id, int(stored["id"])) == raw
    assert app.blobs.current_segment not in (None, lost)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_ingest_reconnects_after_its_postgresql_connection_is_killed(app: Postroom) -> None:
    code, _ = await send(smtp_port(app), message("before"))
    assert code == 250
    async with app.engine.begin() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"
            ),
            {"name": APPLICATION_NAME},
        )
    assert killed == 1
    codes = []
    for _ in range(2):  # a sender retries a 451; the next commit has a new connection
        code, _ = await send(smtp_port(app), message("after the kill"))
        codes.append(code)
        if code == 250:
            break
    assert codes[-1] == 250 and set(codes) <= {250, 451}
    assert [item["subject"] for item in await find(app, "subject:kill")] == ["after the kill"]


def _replies(command: str, code: int) -> float:
    return REGISTRY.get_sample_value("postroom_smtp_replies_total", {"command": command, "code": str(code)}) or 0.0


async def test_sessions_and_replies_are_counted(app: Postroom) -> None:
    sessions = REGISTRY.get_sample_value("postroom_smtp_sessions_total") or 0.0
    before = {
        key: _replies(*key)
        for key in [
            ("CONNECT", 220),
            ("EHLO", 250),
            ("MAIL", 250),
            ("DATA", 354),
            ("DATA", 250),
            ("QUIT", 221),
            ("UNKNOWN", 500),
        ]
    }

    def session() -> None:
        with connect(smtp_port(app)) as client:
            client.sendmail("app@example.com", ["dev@example.com"], message("counted"))
            client.docmd("BOGUS")

    await asyncio.to_thread(session)
    assert (REGISTRY.get_sample_value("postroom_smtp_sessions_total") or 0.0) == sessions + 1
    for key, value in before.items():
        assert _replies(*key) == value + 1, key


async def test_port_is_the_bound_port(app: Postroom) -> None:
    assert smtp_port(app) > 0
    code, _ = await asyncio.to_thread(lambda: send_sync(smtp_port(app), message("port")))
    assert code == 250
