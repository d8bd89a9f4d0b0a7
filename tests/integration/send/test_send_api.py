"""The send API end to end with the default capture transport: sent mail lands in the inbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.integration.conftest import LiveFactory, LiveServer

from postroom.auth.roles import Role

TERMINAL = {"delivered", "sent", "bounced", "complained", "suppressed", "failed", "cancelled"}


async def wait_for_status(
    client: httpx.AsyncClient, email_id: int, wanted: set[str], seconds: float = 15
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        body: dict[str, Any] = (await client.get(f"/api/v1/emails/{email_id}")).json()
        if all(r["status"] in wanted for r in body["recipients"]):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"recipients still at {[r['status'] for r in body['recipients']]}")
        await asyncio.sleep(0.05)


async def developer(live: LiveServer) -> httpx.AsyncClient:
    return live.client(await live.api_key(Role.DEVELOPER))


async def test_sent_email_is_delivered_into_the_capture_inbox(live: LiveServer) -> None:
    async with await developer(live) as client:
        answer = await client.post(
            "/api/v1/emails",
            json={
                "from": "Shop <shop@example.test>",
                "to": ["ann@example.test"],
                "cc": "carl@example.test",
                "bcc": ["boss@example.test"],
                "subject": "Your order",
                "html": "<p>Thanks, <b>Ann</b></p>",
                "tags": ["orders"],
            },
        )
        assert answer.status_code == 202, answer.text
        sent = answer.json()
        assert [r["address"] for r in sent["recipients"]] == [
            "ann@example.test",
            "carl@example.test",
            "boss@example.test",
        ]
        body = await wait_for_status(client, sent["id"], {"delivered"})
        timeline = [e["type"] for e in body["recipients"][0]["events"]]
        assert timeline == ["accepted", "queued", "sent", "delivered"]
        assert body["recipients"][0]["transport"] == "capture"

        inbox = (await client.get("/api/v1/messages", params={"query": "subject:order"})).json()
        assert inbox["total"] == 3
        by_rcpt = {tuple(m["envelope"]["to"]): m for m in inbox["items"]}
        assert set(by_rcpt) == {("ann@example.test",), ("carl@example.test",), ("boss@example.test",)}
        raw = (await client.get(f"/api/v1/messages/{by_rcpt[('boss@example.test',)]['id']}/raw")).content
        assert b"boss@example.test" not in raw.split(b"\r\n\r\n")[0]  # Bcc never shows in the headers
        assert b"Cc: carl@example.test" in raw
        assert b"text/plain" in raw and b"Thanks, Ann" in raw  # text part generated from the HTML


async def test_idempotency_key_returns_the_first_answer(live: LiveServer) -> None:
    payload = {"from": "a@example.test", "to": "b@example.test", "subject": "once", "text": "only once"}
    async with await developer(live) as client:
        first = await client.post("/api/v1/emails", json=payload, headers={"Idempotency-Key": "k-1"})
        again = await client.post("/api/v1/emails", json=payload, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json()
        other = await client.post(
            "/api/v1/emails", json={**payload, "subject": "changed"}, headers={"Idempotency-Key": "k-1"}
        )
        assert other.status_code == 422
        assert "Idempotency-Key" in other.json()["detail"]
        await wait_for_status(client, first.json()["id"], {"delivered"})
        inbox = (await client.get("/api/v1/messages", params={"query": "subject:once"})).json()
        assert inbox["total"] == 1


async def test_header_injection_and_bad_addresses_are_refused_naming_the_field(live: LiveServer) -> None:
    async with await developer(live) as client:
        cases = [
            ({"subject": "hi\r\nBcc: victim@example.test"}, "subject"),
            ({"headers": {"X-Thing": "a\nBcc: victim@example.test"}}, "headers.X-Thing"),
            ({"to": ["not an address"]}, "to[0]"),
            ({"from": "nobody"}, "from"),
            ({"reply_to": "x@example.test\r\nX-Evil: 1"}, "reply_to[0]"),
        ]
        for change, field in cases:
            payload = {"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "text": "t", **change}
            answer = await client.post("/api/v1/emails", json=payload)
            assert answer.status_code == 422, (change, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["errors"][0]["field"] == field
        listed = (await client.get("/api/v1/deliveries")).json()
        assert listed["items"] == []  # nothing was queued


async def test_suppressed_address_is_never_handed_to_a_transport(live: LiveServer) -> None:
    async with await developer(live) as client:
        added = await client.post("/api/v1/suppressions", json={"address": "Gone@Example.test", "reason": "manual"})
        assert added.status_code == 201
        assert (await client.get("/api/v1/suppressions/gone@example.test")).json()["reason"] == "manual"
        sent = (
            await client.post(
                "/api/v1/emails",
                json={
                    "from": "a@example.test",
                    "to": ["gone@example.test", "here@example.test"],
                    "subject": "s",
                    "text": "t",
                },
            )
        ).json()
        assert [r["status"] for r in sent["recipients"]] == ["suppressed", "queued"]
        body = await wait_for_status(client, sent["id"], {"delivered", "suppressed"})
        assert [e["type"] for e in body["recipients"][0]["events"]] == ["accepted", "suppressed"]
        inbox = (await client.get("/api/v1/messages")).json()
        assert [m["envelope"]["to"] for m in inbox["items"]] == [["here@example.test"]]

        listed = (await client.get("/api/v1/suppressions")).json()
        assert listed["total"] == 1
        assert (await client.delete("/api/v1/suppressions/gone@example.test")).status_code == 204
        assert (await client.get("/api/v1/suppressions/gone@example.test")).status_code == 404


async def test_batch_with_per_recipient_variables(live: LiveServer) -> None:
    async with await developer(live) as client:
        recipients = [{"to": f"user{i}@example.test", "variables": {"name": f"User {i}"}} for i in range(20)]
        recipients.append({"to": "broken address", "variables": {}})
        answer = await client.post(
            "/api/v1/batches",
            json={
                "from": "news@example.test",
                "subject": "Hello {{ name }}",
                "html": "<p>Dear {{ name }}, {{ offer }}</p>",
                "variables": {"offer": "50% off"},
                "recipients": recipients,
            },
        )
        assert answer.status_code == 202, answer.text
        batch = answer.json()
        assert batch["accepted"] == 20
        assert [r["index"] for r in batch["rejected"]] == [20]
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            status = (await client.get(f"/api/v1/batches/{batch['id']}")).json()
            if status["counts"].get("delivered") == 20 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert status["counts"] == {"delivered": 20}, status
        inbox = (await client.get("/api/v1/messages", params={"query": 'subject:"Hello User 7"'})).json()
        assert inbox["total"] == 1, inbox
        message = (await client.get(f"/api/v1/messages/{inbox['items'][0]['id']}")).json()
        assert "Dear User 7, 50% off" in message["text"], message
        assert message["to"][0]["address"] == "user7@example.test"


async def test_scheduled_email_waits_and_can_be_cancelled(live: LiveServer) -> None:
    async with await developer(live) as client:
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        sent = (
            await client.post(
                "/api/v1/emails",
                json={
                    "from": "a@example.test",
                    "to": "b@example.test",
                    "subject": "later",
                    "text": "t",
                    "send_at": later,
                },
            )
        ).json()
        await asyncio.sleep(0.5)  # a worker poll or two: nothing may go out before send_at
        body = (await client.get(f"/api/v1/emails/{sent['id']}")).json()
        assert body["recipients"][0]["status"] == "queued"
        cancelled = (await client.post(f"/api/v1/emails/{sent['id']}/cancel")).json()
        assert cancelled["cancelled"] == 1
        body = (await client.get(f"/api/v1/emails/{sent['id']}")).json()
        assert [e["type"] for e in body["recipients"][0]["events"]] == ["accepted", "queued", "cancelled"]
        assert (await client.get("/api/v1/messages")).json()["total"] == 0


async def test_templates_are_versioned_sandboxed_and_previewed(live: LiveServer) -> None:
    async with await developer(live) as client:
        created = await client.post(
            "/api/v1/templates",
            json={
                "name": "welcome",
                "subject": "Welcome {{ name }}",
                "html": "<style>p { color: red }</style><p>Hi {{ name }}</p>",
                "sample_variables": {"name": "Sample"},
            },
        )
        assert created.status_code == 201, created.text
        template = created.json()
        preview = (await client.post(f"/api/v1/templates/{template['id']}/preview", json={})).json()
        assert preview["subject"] == "Welcome Sample"
        assert 'style="color: red' in preview["html"]  # CSS inlined
        assert "Hi Sample" in preview["text"]

        updated = await client.put(
            f"/api/v1/templates/{template['id']}",
            json={"name": "welcome", "subject": "Welcome aboard {{ name }}", "html": "<p>Hello {{ name }}</p>"},
        )
        assert updated.json()["version"] == 2
        first = (await client.get(f"/api/v1/templates/{template['id']}", params={"version": 1})).json()
        assert first["subject"] == "Welcome {{ name }}"

        escape = await client.post(
            "/api/v1/templates",
            json={"name": "evil", "subject": "x", "html": "{{ ''.__class__.__mro__[1].__subclasses__() }}"},
        )
        if escape.status_code == 201:
            rendered = await client.post(f"/api/v1/templates/{escape.json()['id']}/preview", json={"variables": {}})
            assert rendered.status_code == 422
            assert "subclasses" not in rendered.text or "sandbox" in rendered.text.lower() or "unsafe" in rendered.text
        else:
            assert escape.status_code == 422

        bad = await client.post("/api/v1/templates", json={"name": "bad", "subject": "x", "html": "{% if %}"})
        assert bad.status_code == 422

        sent = await client.post(
            "/api/v1/emails",
            json={
                "from": "a@example.test",
                "to": "b@example.test",
                "template_id": template["id"],
                "variables": {"name": "Bo"},
            },
        )
        assert sent.status_code == 202, sent.text
        await wait_for_status(client, sent.json()["id"], {"delivered"})
        inbox = (await client.get("/api/v1/messages")).json()
        assert inbox["items"][0]["subject"] == "Welcome aboard Bo"

        missing = await client.post(
            "/api/v1/emails", json={"from": "a@example.test", "to": "b@example.test", "template_id": template["id"]}
        )
        assert missing.status_code == 422
        assert "name" in missing.json()["detail"]


async def test_viewer_reads_but_cannot_send_and_tenants_are_apart(live_factory: LiveFactory) -> None:
    live = await live_factory()
    other_tenant = await live.postroom.auth.create_tenant("other", "Other")
    async with await developer(live) as client:
        sent = (
            await client.post(
                "/api/v1/emails", json={"from": "a@example.test", "to": "b@example.test", "subject": "s", "text": "t"}
            )
        ).json()
    async with live.client(await live.api_key(Role.VIEWER)) as viewer:
        assert (await viewer.get(f"/api/v1/emails/{sent['id']}")).status_code == 200
        refused = await viewer.post(
            "/api/v1/emails", json={"from": "a@example.test", "to": "b@example.test", "subject": "s", "text": "t"}
        )
        assert refused.status_code == 403
    async with live.client(await live.api_key(Role.ADMIN, tenant_id=other_tenant["id"])) as stranger:
        assert (await stranger.get(f"/api/v1/emails/{sent['id']}")).status_code == 404
        assert (await stranger.post(f"/api/v1/emails/{sent['id']}/cancel")).status_code == 404


async def test_content_that_cannot_render_is_refused_before_anything_is_queued(live: LiveServer) -> None:
    async with await developer(live) as client:
        batch = await client.post(
            "/api/v1/batches",
            json={
                "from": "news@example.test",
                "subject": "Hi {{ name }}",
                "text": "Your code: {{ code }}",
                "recipients": [{"to": "bad address"}, {"to": "a@example.test", "variables": {"name": "A"}}],
            },
        )
        assert batch.status_code == 422
        assert batch.json()["errors"][0]["field"] == "recipients[1].variables"
        assert "code" in batch.json()["detail"]
        single = await client.post(
            "/api/v1/emails",
            json={
                "from": "a@example.test",
                "to": "b@example.test",
                "subject": "{{ x }}",
                "text": "t",
                "variables": {"y": 1},
            },
        )
        assert single.status_code == 422 and "'x'" in single.json()["detail"]
        broken = await client.post(
            "/api/v1/batches",
            json={
                "from": "a@example.test",
                "subject": "s",
                "text": "{% if %}",
                "recipients": [{"to": "c@example.test"}],
            },
        )
        assert broken.status_code == 422
        assert (await client.get("/api/v1/deliveries")).json()["items"] == []
        # Literal content without variables is sent as written, braces and all.
        plain = await client.post(
            "/api/v1/emails",
            json={"from": "a@example.test", "to": "b@example.test", "subject": "{{ as is }}", "text": "t"},
        )
        assert plain.status_code == 202


async def test_unsaved_template_source_previews(live: LiveServer) -> None:
    async with await developer(live) as client:
        preview = await client.post(
            "/api/v1/templates/preview",
            json={"subject": "Hi {{ name }}", "html": "<p>{{ name }} {{ missing }}</p>", "variables": {"name": "Zoe"}},
        )
        body = preview.json()
        assert body["subject"] == "Hi Zoe" and "Zoe" in body["html"] and body["missing_variables"] == ["missing"]
        bad = await client.post("/api/v1/templates/preview", json={"subject": "x", "html": "{% for %}"})
        assert bad.status_code == 422 and "line 1" in bad.json()["detail"]


async def test_sending_metrics_summary_and_prometheus_names(live: LiveServer) -> None:
    async with await developer(live) as client:
        await client.post("/api/v1/suppressions", json={"address": "blocked@example.test"})
        sent = (
            await client.post(
                "/api/v1/emails",
                json={"from": "a@example.test", "to": ["m1@example.test", "m2@example.test", "blocked@example.test"],
                      "subject": "metrics", "text": "t"},
            )
        ).json()  # fmt: skip
        await wait_for_status(client, sent["id"], {"delivered", "suppressed"})
        summary = (await client.get("/api/v1/admin/metrics", params={"hours": 1})).json()
        assert (summary["sent"], summary["delivered"], summary["suppressed"]) == (2, 2, 1)
        assert (summary["queue_depth"], summary["dead_letters"], summary["bucket_seconds"]) == (0, 0, 60)
        assert sum(point["delivered"] for point in summary["series"]) == 2
        assert 60 <= len(summary["series"]) <= 62
        day = (await client.get("/api/v1/admin/metrics", params={"hours": 24})).json()
        assert day["bucket_seconds"] == 3600 and day["delivered"] == 2
        assert (await client.get("/api/v1/admin/metrics", params={"hours": 0})).status_code == 422
        prometheus = (await client.get("/metrics")).text
        for name in ("emails_sent_total", "emails_failed_total", "email_queue_size", "email_send_seconds_bucket"):
            assert name in prometheus
