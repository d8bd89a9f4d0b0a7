"""Outgoing webhooks end to end: the API creates an endpoint, events reach a real receiver signed."""

from __future__ import annotations

import pytest
from tests.integration.automation.conftest import fast_retries, wait_until_jobs_settle
from tests.integration.automation.receiver import Receiver
from tests.integration.conftest import LiveFactory, LiveServer
from tests.integration.test_api import RAW

from postroom.auth.roles import Role
from postroom.automation.webhooks import SignatureError, verify_signature
from postroom.core import events
from postroom.core.events import NewEvent


async def start(live_factory: LiveFactory, **overrides: object) -> tuple[LiveServer, str]:
    live = await live_factory(webhook_allow_private=True, **overrides)
    return live, await live.api_key(Role.ADMIN)


async def create_endpoint(live: LiveServer, token: str, url: str, **fields: object) -> dict[str, object]:
    async with live.client(token) as client:
        response = await client.post("/api/v1/webhooks/endpoints", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def deliveries(live: LiveServer, token: str, endpoint_id: object, **params: object) -> list[dict[str, object]]:
    async with live.client(token) as client:
        response = await client.get(f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def append(live: LiveServer, *types: str) -> None:
    async with live.postroom.engine.begin() as conn:
        await events.append(
            conn, [NewEvent(live.postroom.default_tenant_id, t, None, {"n": i}) for i, t in enumerate(types)]
        )
    await live.postroom.hub.published()


async def test_the_secret_is_shown_once(live_factory: LiveFactory, receiver: Receiver) -> None:
    live, token = await start(live_factory)
    created = await create_endpoint(live, token, receiver.url, description="orders")
    secret = created["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_") and len(secret) > 40
    async with live.client(token) as client:
        listed = (await client.get("/api/v1/webhooks/endpoints")).json()["items"]
        one = (await client.get(f"/api/v1/webhooks/endpoints/{created['id']}")).json()
        patched = (await client.patch(f"/api/v1/webhooks/endpoints/{created['id']}", json={"description": "x"})).json()
    assert [e["id"] for e in listed] == [created["id"]]
    for shown in (*listed, one, patched):
        assert "secret" not in shown and secret not in str(shown)
    assert one["url"] == receiver.url and one["event_types"] is None and patched["description"] == "x"


async def test_an_event_arrives_signed_and_the_signature_verifies(
    live_factory: LiveFactory, receiver: Receiver
) -> None:
    live, token = await start(live_factory)
    endpoint = await create_endpoint(live, token, receiver.url)
    secret = str(endpoint["secret"])
    async with live.client(token) as client:
        message = await client.post("/api/v1/messages", content=RAW, headers={"Content-Type": "message/rfc822"})
    assert message.status_code == 201

    [request] = await receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    verify_signature(secret, request.headers, request.body)
    body = request.json()
    assert body["type"] == "message.received" and body["subject_id"] == message.json()["id"]
    assert request.headers["webhook-id"] == f"evt_{body['id']}"
    with pytest.raises(SignatureError):
        verify_signature(secret, request.headers, request.body.replace(b"message", b"massage"))
    with pytest.raises(SignatureError):
        verify_signature("whsec_" + "A" * 44, request.headers, request.body)

    await wait_until_jobs_settle(live.postroom)
    [logged] = await deliveries(live, token, endpoint["id"])
    assert logged["status"] == "succeeded" and logged["response_status"] == 200 and logged["attempt"] == 1
    assert logged["event_id"] == body["id"] and logged["response_body"] == "status 200"


async def test_a_failing_receiver_is_retried_and_every_attempt_logged(
    live_factory: LiveFactory, receiver: Receiver
) -> None:
    live, token = await start(live_factory)
    fast_retries(live.postroom)
    receiver.answer_with(500, 200)
    endpoint = await create_endpoint(live, token, receiver.url)
    await append(live, "email.delivered")

    first, second = await receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # receivers can drop the duplicate
    verify_signature(str(endpoint["secret"]), second.headers, second.body)
    [(_, status, attempts)] = await wait_until_jobs_settle(live.postroom)
    assert (status, attempts) == ("done", 2)
    logged = await deliveries(live, token, endpoint["id"])
    assert [(d["attempt"], d["status"], d["response_status"]) for d in logged] == [
        (2, "succeeded", 200),
        (1, "failed", 500),
    ]
    assert logged[1]["response_body"] == "status 500"


async def test_after_the_last_attempt_the_delivery_is_dead_and_can_be_resent(
    live_factory: LiveFactory, receiver: Receiver
) -> None:
    live, token = await start(live_factory, webhook_max_attempts=3)
    fast_retries(live.postroom)
    receiver.answer_with(503, 503, 503)
    endpoint = await create_endpoint(live, token, receiver.url)
    await append(live, "email.bounced")

    await receiver.wait_for(3)
    [(_, status, attempts)] = await wait_until_jobs_settle(live.postroom)
    assert (status, attempts) == ("dead", 3)
    logged = await deliveries(live, token, endpoint["id"])
    assert [d["status"] for d in logged] == ["dead", "failed", "failed"]
    assert await deliveries(live, token, endpoint["id"], status="dead") == logged[:1]
    log_path = f"/api/v1/webhooks/endpoints/{endpoint['id']}/deliveries"
    async with live.client(token) as client:
        page = (await client.get(log_path, params={"limit": 2})).json()
        rest = (await client.get(log_path, params={"limit": 2, "before": page["next_before"]})).json()
    assert page["items"] + rest["items"] == logged and rest["next_before"] is None

    async with live.client(token) as client:
        retried = await client.post(f"/api/v1/webhooks/deliveries/{logged[0]['id']}/retry")
    assert retried.status_code == 202, retried.text
    requests = await receiver.wait_for(4)
    assert requests[3].headers["webhook-id"] == requests[0].headers["webhook-id"]
    await wait_until_jobs_settle(live.postroom)
    assert (await deliveries(live, token, endpoint["id"]))[0]["status"] == "succeeded"


async def test_an_endpoint_gets_only_the_event_types_it_asked_for(
    live_factory: LiveFactory, receiver: Receiver
) -> None:
    live, token = await start(live_factory)
    await create_endpoint(live, token, receiver.url, event_types=["email.bounced", "message.*"])
    await append(live, "email.sent", "email.bounced", "email.delivered", "message.deleted", "email.complained")

    await wait_until_jobs_settle(live.postroom)
    assert sorted(r.json()["type"] for r in await receiver.wait_for(2)) == ["email.bounced", "message.deleted"]
    assert len(receiver.requests) == 2


async def test_unknown_filters_and_bad_urls_are_refused(live_factory: LiveFactory, receiver: Receiver) -> None:
    live, token = await start(live_factory)
    async with live.client(token) as client:
        bad_type = await client.post(
            "/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["Email Bounced"]}
        )
        bad_url = await client.post("/api/v1/webhooks/endpoints", json={"url": "ftp://example.com/x"})
        missing = await client.get("/api/v1/webhooks/endpoints/999999")
    for response in (bad_type, bad_url):
        assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    assert "Email Bounced" in bad_type.json()["detail"] and "http" in bad_url.json()["detail"]
    assert missing.status_code == 404


async def test_redirects_are_not_followed(live_factory: LiveFactory, receiver: Receiver) -> None:
    live, token = await start(live_factory, webhook_max_attempts=1)
    receiver.answer_with(302)
    endpoint = await create_endpoint(live, token, receiver.url)
    await append(live, "email.sent")

    [(_, status, _)] = await wait_until_jobs_settle(live.postroom)
    assert status == "dead"
    assert [r.path for r in receiver.requests] == ["/hook"]
    [logged] = await deliveries(live, token, endpoint["id"])
    assert logged["response_status"] == 302 and logged["status"] == "dead"


async def test_a_test_event_and_a_rotated_secret(live_factory: LiveFactory, receiver: Receiver) -> None:
    live, token = await start(live_factory)
    endpoint = await create_endpoint(live, token, receiver.url)
    old = str(endpoint["secret"])
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    async with live.client(token) as client:
        rotated = (await client.post(path + "/rotate-secret")).json()
        new = rotated["secret"]
        assert new != old and rotated["previous_secret_expires_at"] is not None
        assert (await client.post(path + "/test")).status_code == 202
        [during_grace] = await receiver.wait_for(1)
        revoked = (await client.post(path + "/rotate-secret", json={"keep_old_seconds": 0})).json()
        assert revoked["previous_secret_expires_at"] is None
        assert (await client.post(path + "/test")).status_code == 202
        after_revoke = (await receiver.wait_for(2))[1]

    assert during_grace.json()["type"] == "webhook.test"
    verify_signature(old, during_grace.headers, during_grace.body)  # receivers may switch over at leisure
    verify_signature(new, during_grace.headers, during_grace.body)
    verify_signature(revoked["secret"], after_revoke.headers, after_revoke.body)
    for stale in (old, new):
        with pytest.raises(SignatureError):
            verify_signature(stale, after_revoke.headers, after_revoke.body)


async def test_a_disabled_endpoint_gets_nothing_and_restarts_from_now(
    live_factory: LiveFactory, receiver: Receiver
) -> None:
    live, token = await start(live_factory)
    endpoint = await create_endpoint(live, token, receiver.url, enabled=False)
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    await append(live, "email.sent")
    async with live.client(token) as client:
        assert (await client.post(path + "/test")).status_code == 409
        enabled = await client.patch(path, json={"enabled": True})
        assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    await append(live, "email.delivered")

    [request] = await receiver.wait_for(1)
    assert request.json()["type"] == "email.delivered"
    await wait_until_jobs_settle(live.postroom)
    assert len(receiver.requests) == 1


async def test_deleting_an_endpoint_removes_it_and_its_log(live_factory: LiveFactory, receiver: Receiver) -> None:
    live, token = await start(live_factory)
    endpoint = await create_endpoint(live, token, receiver.url)
    await append(live, "email.sent")
    await receiver.wait_for(1)
    await wait_until_jobs_settle(live.postroom)
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    async with live.client(token) as client:
        assert (await client.delete(path)).status_code == 204
        assert (await client.get(path)).status_code == 404
        assert (await client.get(path + "/deliveries")).status_code == 404
        assert (await client.delete(path)).status_code == 404
