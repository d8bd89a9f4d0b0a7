"""The command line, run as a user runs it: migrate, users, keys, import and export."""

from __future__ import annotations

import mailbox
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.services import free_port

from postroom.config import Settings


def postroom(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    url = settings.resolved_database_url
    return subprocess.run(
        [sys.executable, "-m", "postroom", *args, "--data", str(settings.storage_dir), "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


def test_migrate_user_and_apikey(settings: Settings) -> None:
    migrated = postroom(settings, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    made = postroom(settings, "user", "create", "ops@example.com", "--role", "admin", "--password", "s3cret-pass")
    assert made.returncode == 0, made.stderr
    assert "ops@example.com created with role admin" in made.stdout
    again = postroom(settings, "user", "create", "ops@example.com", "--password", "s3cret-pass")
    assert again.returncode == 1 and "exists already" in again.stderr
    key = postroom(settings, "apikey", "create", "ci", "--role", "viewer")
    assert key.returncode == 0, key.stderr
    assert key.stdout.strip().startswith("pr_") and "not shown again" in key.stderr
    missing = postroom(settings, "apikey", "create", "x", "--tenant", "nope")
    assert missing.returncode == 1 and "no tenant 'nope'" in missing.stderr


def test_import_mbox_maildir_and_folder_then_export(settings: Settings, tmp_path: Path) -> None:
    raws = [
        f"From: a{i}@example.com\nTo: b@example.com\nSubject: Imported {i}\n\nbody {i}\n".encode() for i in range(5)
    ]
    box = mailbox.mbox(tmp_path / "in.mbox")
    for raw in raws:
        box.add(raw)
    box.close()
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    maildir.add(raws[0])
    folder = tmp_path / "emls"
    folder.mkdir()
    (folder / "one.eml").write_bytes(raws[1])
    (folder / "two.eml").write_bytes(b"\x00\xffnot really mail")

    for source in ("in.mbox", "Maildir", "emls"):
        result = postroom(settings, "import", str(tmp_path / source), "--tag", "imported")
        assert result.returncode == 0, result.stderr
    assert "imported 2 messages" in result.stderr

    out = tmp_path / "out"
    exported = postroom(settings, "export", str(out), "--format", "eml", "--query", "tag:imported")
    assert exported.returncode == 0, exported.stderr
    assert "exported 8 messages" in exported.stderr
    written = sorted(p.read_bytes() for p in out.glob("*.eml"))
    # Byte for byte, the malformed one included.
    assert b"\x00\xffnot really mail" in written and raws[1] in written
    only = postroom(settings, "export", str(tmp_path / "subset.mbox"), "--query", "subject:imported")
    assert only.returncode == 0 and "exported 7 messages" in only.stderr


def test_import_of_a_missing_path_fails_clearly(settings: Settings, tmp_path: Path) -> None:
    result = postroom(settings, "import", str(tmp_path / "absent"))
    assert result.returncode == 1 and "neither a file nor a folder" in result.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_production_mode_with_a_default_secret_refuses_to_start(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "postroom", "serve", "--data", str(settings.storage_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "POSTROOM_ENV": "production"},
    )
    assert result.returncode == 2 and "JWT_SECRET" in result.stderr


def wait_for_health(port: int, process: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("no /health within 60 s")


@pytest.mark.parametrize("command", ["smtp", "worker"])
def test_smtp_and_worker_processes_serve_health_and_metrics_on_the_ops_port(settings: Settings, command: str) -> None:
    smtp_port, ops_port = free_port(), free_port()
    url = settings.resolved_database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "postroom", command, "--ops-port", str(ops_port), "--data", str(settings.storage_dir)]
        + ["--database-url", url]
        + (["--smtp-port", str(smtp_port)] if command == "smtp" else []),
        env={**os.environ, "POSTROOM_ENV": "test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = wait_for_health(ops_port, process)
        assert health.status_code == 200 and health.json() == {"status": "healthy", "database": "connected"}
        assert httpx.get(f"http://127.0.0.1:{ops_port}/ready", timeout=5).json()["status"] == "ready"
        if command == "smtp":
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
                client.sendmail("app@example.test", ["qa@example.test"], b"Subject: counted\r\n\r\nhello\r\n")
        exported = httpx.get(f"http://127.0.0.1:{ops_port}/metrics", timeout=5).text
        # What only this process knows reaches Prometheus: its SMTP sessions and replies.
        sessions = [line for line in exported.splitlines() if line.startswith("postroom_smtp_sessions_total ")]
        assert sessions == [f"postroom_smtp_sessions_total {1.0 if command == 'smtp' else 0.0}"]
        assert ('postroom_smtp_replies_total{code="250",command="DATA"} 1.0' in exported) is (command == "smtp")
        assert "postroom_stored_messages" in exported
        assert httpx.get(f"http://127.0.0.1:{ops_port}/api/v1/messages", timeout=5).status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "event loop      uvloop" in output
