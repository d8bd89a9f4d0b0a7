"""Webhook URLs cannot reach the server's own network, when saved nor when delivered."""

from __future__ import annotations

import pytest
from tests.integration.automation.conftest import fast_retries, wait_until_jobs_settle
from tests.integration.automation.receiver import Receiver
from tests.integration.conftest import LiveFactory

from postroom.auth.roles import Role
from postroom.automation.urlguard import UnsafeUrl, check_address, resolve_url
from postroom.automation.webhooks import WebhookService
from postroom.core import events
from postroom.core.events import NewEvent

PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://10.0.0.7/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[ff02::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "http://[::ffff:169.254.169.254]/hook",
    "http://[::ffff:a00:1]/hook",  # 10.0.0.1, mapped and written in hex
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 around 169.254.169.254
    "http://localhost:8025/hook",  # a name that resolves to loopback
]


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::200e"])
def test_public_addresses_pass(address: str) -> None:
    check_address(address)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x/", "http:///nohost", "hook"])
async def test_only_http_and_https_urls_with_a_host(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await resolve_url(url, allow_private=True, require_resolution=False)


async def test_private_urls_are_refused_when_saved(live_factory: LiveFactory) -> None:
    live = await live_factory()  # POSTROOM_WEBHOOK_ALLOW_PRIVATE keeps its default: off
    token = await live.api_key(Role.ADMIN)
    accepted = []
    async with live.client(token) as client:
        for url in PRIVATE_URLS:
            response = await client.post("/api/v1/webhooks/endpoints", json={"url": url})
            if response.status_code != 400 or "refused" not in response.json()["detail"]:
                accepted.append(f"{url}: {response.status_code} {response.text[:120]}")
        public = await client.post("/api/v1/webhooks/endpoints", json={"url": "https://93.184.215.14/hook"})
        assert public.status_code == 201, public.text
        moved = await client.patch(
            f"/api/v1/webhooks/endpoints/{public.json()['id']}", json={"url": "http://169.254.169.254/"}
        )
    assert not accepted, "\n".join(accepted)
    assert moved.status_code == 400 and moved.headers["content-type"] == "application/problem+json"
    assert [e["url"] for e in await live.postroom.webhooks.list_endpoints(live.postroom.default_tenant_id)] == [
        "https://93.184.215.14/hook"
    ]


async def test_a_url_that_turned_private_is_refused_at_delivery(live_factory: LiveFactory, receiver: Receiver) -> None:
    """The endpoint was saved while its address was allowed; by delivery time it is not (as after a DNS change)."""
    live = await live_factory()
    postroom = live.postroom
    permissive = WebhookService(postroom.engine, postroom.settings.model_copy(update={"webhook_allow_private": True}))
    tenant = postroom.default_tenant_id
    endpoint = await permissive.create(tenant, receiver.url)
    async with postroom.engine.begin() as conn:
        await events.append(conn, [NewEvent(tenant, "email.sent", None, {})])
    await postroom.hub.published()

    [(_, status, attempts)] = await wait_until_jobs_settle(postroom)
    assert (status, attempts) == ("dead", 1)  # refused for good, not retried
    assert receiver.requests == []
    [logged] = (await postroom.webhooks.list_deliveries(tenant, endpoint["id"]))["items"]
    assert logged["status"] == "dead" and logged["response_status"] is None
    assert "refused" in logged["error"] and "127.0.0.1" in logged["error"]


async def test_a_name_that_does_not_resolve_is_saved_but_retried_not_sent(live_factory: LiveFactory) -> None:
    live = await live_factory(webhook_max_attempts=2)
    fast_retries(live.postroom)
    token = await live.api_key(Role.ADMIN)
    async with live.client(token) as client:
        created = await client.post("/api/v1/webhooks/endpoints", json={"url": "https://hooks.does-not-exist.invalid/"})
    assert created.status_code == 201, created.text
    postroom = live.postroom
    async with postroom.engine.begin() as conn:
        await events.append(conn, [NewEvent(postroom.default_tenant_id, "email.sent", None, {})])
    await postroom.hub.published()

    [(_, status, attempts)] = await wait_until_jobs_settle(postroom)
    assert (status, attempts) == ("dead", 2)  # a DNS failure is retried like any other failure
    logged = (await postroom.webhooks.list_deliveries(postroom.default_tenant_id, created.json()["id"]))["items"]
    assert [d["status"] for d in logged] == ["dead", "failed"]
    assert all("does not resolve" in d["error"] for d in logged)
