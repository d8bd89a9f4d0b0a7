"""Tenants never see, change or receive each other's webhooks; roles decide who manages them."""

from __future__ import annotations

from tests.integration.automation.conftest import wait_until_jobs_settle
from tests.integration.automation.receiver import Receiver
from tests.integration.conftest import LiveFactory

from postroom.auth.roles import Role
from postroom.core import events
from postroom.core.events import NewEvent


async def test_one_tenant_cannot_reach_anothers_endpoints_or_events(
    live_factory: LiveFactory, receiver: Receiver
) -> None:
    live = await live_factory(webhook_allow_private=True)
    postroom = live.postroom
    tenant_a = postroom.default_tenant_id
    tenant_b = (await postroom.auth.create_tenant("tenant-b", "B"))["id"]
    admin_a = await live.api_key(Role.ADMIN, tenant_a)
    admin_b = await live.api_key(Role.SUPER_ADMIN, tenant_b)
    other = Receiver()
    await other.start()
    try:
        async with live.client(admin_a) as client:
            endpoint_a = (await client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url})).json()
        async with live.client(admin_b) as client:
            created_b = await client.post("/api/v1/webhooks/endpoints", json={"url": other.url})
            assert created_b.status_code == 201
            assert [e["id"] for e in (await client.get("/api/v1/webhooks/endpoints")).json()["items"]] == [
                created_b.json()["id"]
            ]
            path = f"/api/v1/webhooks/endpoints/{endpoint_a['id']}"
            answers = [
                await client.get(path),
                await client.patch(path, json={"url": other.url}),
                await client.post(path + "/rotate-secret"),
                await client.post(path + "/test"),
                await client.get(path + "/deliveries"),
                await client.delete(path),
            ]
        assert [a.status_code for a in answers] == [404] * len(answers)
        assert endpoint_a["secret"] not in str([a.text for a in answers])

        async with postroom.engine.begin() as conn:
            await events.append(
                conn,
                [
                    NewEvent(tenant_b, "email.sent", None, {"to": "b@b.example"}),
                    NewEvent(tenant_a, "email.sent", None, {}),
                ],
            )
        await postroom.hub.published()
        [to_a] = await receiver.wait_for(1)
        [to_b] = await other.wait_for(1)
        await wait_until_jobs_settle(postroom)
    finally:
        await other.stop()
    assert to_b.json()["data"] == {"to": "b@b.example"} and to_a.json()["data"] == {}
    assert len(receiver.requests) == 1 and len(other.requests) == 1
    [delivery_a] = (await postroom.webhooks.list_deliveries(tenant_a, endpoint_a["id"]))["items"]
    async with live.client(admin_b) as client:
        retried = await client.post(f"/api/v1/webhooks/deliveries/{delivery_a['id']}/retry")
    assert retried.status_code == 404
    assert (await postroom.webhooks.get(tenant_a, endpoint_a["id"]))["url"] == receiver.url


async def test_developers_read_and_admins_manage(live_factory: LiveFactory, receiver: Receiver) -> None:
    live = await live_factory(webhook_allow_private=True)
    keys = {role: await live.api_key(role) for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN)}
    async with live.client(keys[Role.ADMIN]) as client:
        endpoint = (await client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url})).json()
    path = f"/api/v1/webhooks/endpoints/{endpoint['id']}"
    async with live.client(keys[Role.DEVELOPER]) as client:
        assert (await client.get(path)).status_code == 200
        assert (await client.get(path + "/deliveries")).status_code == 200
        refused = [
            await client.post("/api/v1/webhooks/endpoints", json={"url": receiver.url}),
            await client.patch(path, json={"enabled": False}),
            await client.post(path + "/rotate-secret"),
            await client.post(path + "/test"),
            await client.delete(path),
        ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert "manage webhook endpoints" in refused[0].json()["detail"]
    async with live.client(keys[Role.VIEWER]) as client:
        assert (await client.get("/api/v1/webhooks/endpoints")).status_code == 403
