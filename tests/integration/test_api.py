"""The REST API over real HTTP: messages, errors as problem+json, live events, health and metrics."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import websockets
from tests.integration.conftest import LiveFactory, LiveServer

from postroom.auth.roles import Role

PROBLEM = "application/problem+json"

RAW = (
    b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Reset your password\r\n"
    b"Message-ID: <reset-1@example.com>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b'--b1\r\nContent-Type: multipart/alternative; boundary="b2"\r\n\r\n'
    b"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nClick https://example.com/reset\r\n"
    b'--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Click <a href="https://example.com/reset">here</a>'
    b'<img src="cid:logo@x"><script>alert(1)</script></p>\r\n--b2--\r\n'
    b"--b1\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    b'--b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="../../etc/passwd"\r\n\r\n'
    b"root:x:0:0\r\n--b1--\r\n"
)


async def post_raw(client: httpx.AsyncClient, raw: bytes = RAW) -> dict[str, object]:
    response = await client.post("/api/v1/messages", content=raw, headers={"Content-Type": "message/rfc822"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_health_ready_and_metrics(live: LiveServer) -> None:
    async with live.client() as client:
        for path in ("/health", "/api/v1/health"):
            assert (await client.get(path)).json() == {"status": "healthy", "database": "connected"}
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json()["migrations"] == "current"
        metrics = (await client.get("/metrics")).text
        assert "postroom_messages_received_total" in metrics and "postroom_ingest_seconds_bucket" in metrics


async def test_health_reports_a_database_that_is_down(live: LiveServer) -> None:
    from postroom.store.engine import create_engine

    healthy = live.postroom.engine
    unreachable = (
        "sqlite+aiosqlite:////dev/null/postroom.db"
        if live.postroom.settings.is_sqlite
        else "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    )
    live.postroom.engine = create_engine(unreachable)
    try:
        async with live.client() as client:
            response = await client.get("/health")
    finally:
        await live.postroom.engine.dispose()
        live.postroom.engine = healthy
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "disconnected"}


async def test_requests_without_credentials_get_a_problem(live: LiveServer) -> None:
    async with live.client() as client:
        response = await client.get("/api/v1/messages")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 401 and "authentication required" in response.json()["detail"]


async def test_message_lifecycle(live: LiveServer) -> None:
    key = await live.api_key(Role.DEVELOPER)
    async with live.client(key) as client:
        created = await post_raw(client)
        message_id = created["id"]
        # Found at once by subject, sender and recipient.
        for query in ("subject:reset", "from:alice", "to:bob@example.org", '"reset your password"'):
            page = (await client.get("/api/v1/messages", params={"query": query})).json()
            assert [m["id"] for m in page["items"]] == [message_id], query
            assert page["total"] == 1 and page["next_cursor"] is None
        detail = (await client.get(f"/api/v1/messages/{message_id}")).json()
        assert detail["subject"] == "Reset your password"
        assert "https://example.com/reset" in detail["text"]
        assert [a["filename"] for a in detail["attachments"]] == ["passwd"]
        assert [a["content_id"] for a in detail["inline"]] == ["logo@x"]
        # Exact bytes back.
        raw = await client.get(f"/api/v1/messages/{message_id}/raw")
        assert raw.content == RAW
        # HTML with a script-blocking CSP and cid: links pointing at the parts.
        html = await client.get(f"/api/v1/messages/{message_id}/html")
        csp = html.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "sandbox" in csp
        assert f"/api/v1/messages/{message_id}/attachments/" in html.text
        # Attachment with a safe file name, never rendered inline.
        index = detail["attachments"][0]["index"]
        attachment = await client.get(f"/api/v1/messages/{message_id}/attachments/{index}")
        assert attachment.content == b"root:x:0:0"
        assert attachment.headers["content-type"] == "application/octet-stream"
        assert 'filename="passwd"' in attachment.headers["content-disposition"]
        # Read state and tags.
        patched = (
            await client.patch(f"/api/v1/messages/{message_id}", json={"is_read": True, "add_tags": ["vip"]})
        ).json()
        assert patched["is_read"] is True and patched["tags"] == ["vip"]
        assert (await client.get("/api/v1/messages", params={"query": "tag:vip is:read"})).json()["total"] == 1
        # Delete.
        assert (await client.delete(f"/api/v1/messages/{message_id}")).status_code == 204
        missing = await client.get(f"/api/v1/messages/{message_id}")
        assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def test_post_json_message_and_header_injection(live: LiveServer) -> None:
    key = await live.api_key(Role.DEVELOPER)
    async with live.client(key) as client:
        made = await client.post(
            "/api/v1/messages",
            json={
                "from": "app@example.com",
                "to": ["user@example.com"],
                "subject": "Hello JSON",
                "html": "<b>hi</b>",
                "tags": ["json"],
                "attachments": [{"filename": "a.txt", "content_base64": base64.b64encode(b"abc").decode()}],
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["tags"] == ["json"] and made.json()["attachments"][0]["filename"] == "a.txt"
        bad = await client.post(
            "/api/v1/messages",
            json={"from": "a@example.com", "to": ["b@example.com"], "subject": "x\r\nBcc: victim@example.com"},
        )
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
        assert "subject" in bad.json()["detail"]


async def test_bad_input_gets_problem_json(live: LiveServer) -> None:
    key = await live.api_key(Role.DEVELOPER)
    async with live.client(key) as client:
        for response, status in (
            (await client.get("/api/v1/messages", params={"query": "is:maybe"}), 400),
            (await client.get("/api/v1/messages", params={"cursor": "!!!"}), 400),
            (await client.get("/api/v1/messages", params={"limit": 0}), 422),
            (await client.get("/api/v1/messages/abc"), 422),
            (await client.patch("/api/v1/messages/1", json={"is_read": "perhaps"}), 422),
            (await client.post("/api/v1/messages", content=b"", headers={"Content-Type": "message/rfc822"}), 400),
            (await client.post("/api/v1/messages", json={"subject": "no recipients"}), 422),
        ):
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == PROBLEM
            body = response.json()
            assert body["status"] == status and body["detail"]


async def test_pagination_and_delete_by_query(live: LiveServer) -> None:
    key = await live.api_key(Role.DEVELOPER)
    async with live.client(key) as client:
        for i in range(7):
            await post_raw(
                client, RAW.replace(b"Reset your password", f"Batch {i} {'odd' if i % 2 else 'even'}".encode())
            )
        first = (await client.get("/api/v1/messages", params={"limit": 3})).json()
        assert len(first["items"]) == 3 and first["total"] == 7 and first["next_cursor"]
        second = (await client.get("/api/v1/messages", params={"limit": 3, "cursor": first["next_cursor"]})).json()
        assert {m["id"] for m in first["items"]}.isdisjoint(m["id"] for m in second["items"])
        deleted = (await client.delete("/api/v1/messages", params={"query": "subject:odd"})).json()
        assert deleted == {"deleted": 3}
        assert (await client.get("/api/v1/messages")).json()["total"] == 4
        assert (await client.delete("/api/v1/messages")).json() == {"deleted": 4}


async def test_sse_stream_delivers_received_updated_deleted(live: LiveServer) -> None:
    key = await live.api_key(Role.DEVELOPER)
    events: list[dict[str, object]] = []

    async def listen() -> None:
        async with live.client(key) as client, client.stream("GET", "/api/v1/events/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 3:
                        return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    async with live.client(key) as client:
        created = await post_raw(client)
        await client.patch(f"/api/v1/messages/{created['id']}", json={"is_read": True})
        await client.delete(f"/api/v1/messages/{created['id']}")
    await asyncio.wait_for(listener, 5)
    assert [e["type"] for e in events] == ["message.received", "message.updated", "message.deleted"]


async def test_websocket_stream(live: LiveServer) -> None:
    key = await live.api_key(Role.VIEWER)
    writer = await live.api_key(Role.DEVELOPER)
    url = live.base_url.replace("http", "ws") + f"/api/v1/events/ws?token={key}"
    async with websockets.connect(url) as ws:
        await asyncio.sleep(0.2)
        async with live.client(writer) as client:
            created = await post_raw(client)
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert event["type"] == "message.received" and event["data"]["id"] == created["id"]
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        async with websockets.connect(live.base_url.replace("http", "ws") + "/api/v1/events/ws") as ws:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_open_mode_on_loopback_needs_no_credentials(live_factory: LiveFactory) -> None:
    live = await live_factory(auth_required=False)
    async with live.client() as client:
        await post_raw(client)
        me = (await client.get("/api/v1/auth/me")).json()
        assert me["via"] == "open" and me["tenant"]["slug"] == "default"
        assert (await client.get("/api/v1/messages")).json()["total"] == 1


async def test_release_without_a_relay_is_refused_clearly(live: LiveServer) -> None:
    key = await live.api_key(Role.DEVELOPER)
    async with live.client(key) as client:
        created = await post_raw(client)
        response = await client.post(f"/api/v1/messages/{created['id']}/release", json={"to": ["x@example.com"]})
    assert response.status_code == 409 and "POSTROOM_RELEASE_HOST" in response.json()["detail"]


async def test_release_over_http_reaches_the_relay_and_the_job_records_it(live_factory: LiveFactory) -> None:
    from tests.integration.capture.capture_support import Received, Sink

    sink = Sink()
    await sink.start()
    try:
        live = await live_factory(auth_required=True, release_host="127.0.0.1", release_port=sink.port)
        key = await live.api_key(Role.ADMIN)
        async with live.client(key) as client:
            created = await post_raw(client)
            queued = await client.post(f"/api/v1/messages/{created['id']}/release", json={"to": ["real@example.org"]})
            assert queued.status_code == 202 and queued.json()["status"] == "queued"
            await asyncio.wait_for(sink.handler.arrived.wait(), 20)
            for _ in range(100):
                job = (await client.get(f"/api/v1/jobs/{queued.json()['job_id']}")).json()
                if job["status"] == "done":
                    break
                await asyncio.sleep(0.05)
        assert job["status"] == "done" and job["result"]["accepted"] == ["real@example.org"]
        assert sink.received == [Received("alice@example.com", ["real@example.org"], RAW)]
    finally:
        await sink.stop()
