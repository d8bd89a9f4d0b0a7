"""Walks every HTTP route as each role and as another tenant: roles hold and nothing leaks.

The route table below must list every route the app serves; a new route without an
entry fails ``test_every_route_is_listed``, so it cannot ship unchecked.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from fastapi.routing import APIRoute, APIWebSocketRoute
from tests.integration.conftest import LiveServer
from tests.integration.test_api import RAW

from postroom.api.http import ROUTERS
from postroom.auth.roles import Role
from postroom.automation.deliveries import Attempt, DeliveryRequest, record_attempt
from postroom.send import suppression
from postroom.send.service import BatchRecipient, BatchRequest, EmailRequest
from postroom.send.templates import TemplateInput
from postroom.store.types import utcnow

SECRET = "TENANT-A-SECRET"
ROLES = [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.SUPER_ADMIN]


@dataclass
class World:
    live: LiveServer
    tenant_a: int
    tenant_b: int
    message_id: int
    attachment_index: int
    user_a: int
    key_a: int
    job_a: int
    tokens_a: dict[Role, str]
    tokens_b: dict[Role, str]
    webhook_a: int = 0
    delivery_a: int = 0
    email_a: int = 0
    batch_a: int = 0
    send_delivery_a: int = 0
    template_a: int = 0

    async def fresh_message(self) -> int:
        async with self.live.client(self.tokens_a[Role.SUPER_ADMIN]) as client:
            response = await client.post(
                "/api/v1/messages",
                content=RAW.replace(b"Reset your password", SECRET.encode()),
                headers={"Content-Type": "message/rfc822"},
            )
        return int(response.json()["id"])

    async def fresh_user(self) -> int:
        user = await self.live.postroom.auth.create_user(
            self.tenant_a, f"u{uuid.uuid4().hex[:10]}@a.example", "password123", Role.VIEWER
        )
        return int(user["id"])

    async def fresh_template(self) -> int:
        created = await self.live.postroom.templates.create(
            self.tenant_a, TemplateInput(f"t-{uuid.uuid4().hex[:8]}", SECRET, html=f"<p>{SECRET}</p>")
        )
        return int(created["id"])

    async def fresh_suppression(self) -> str:
        address = f"s{uuid.uuid4().hex[:8]}@example.test"
        async with self.live.postroom.engine.begin() as conn:
            await suppression.add(conn, self.tenant_a, address, "manual", SECRET)
        return address

    async def fresh_webhook(self) -> int:
        endpoint = await self.live.postroom.webhooks.create(self.tenant_a, WEBHOOK_URL, enabled=False)
        return int(endpoint["id"])


Call = Callable[[World], Awaitable[tuple[str, str, dict[str, Any]]]]


def fixed(method: str, path: str, **kwargs: Any) -> Call:
    async def call(world: World) -> tuple[str, str, dict[str, Any]]:
        return method, path.format(**vars(world)), kwargs

    return call


def on_fresh_message(method: str, suffix: str = "", **kwargs: Any) -> Call:
    async def call(world: World) -> tuple[str, str, dict[str, Any]]:
        return method, f"/api/v1/messages/{await world.fresh_message()}{suffix}", kwargs

    return call


def on_fresh_user(method: str, **kwargs: Any) -> Call:
    async def call(world: World) -> tuple[str, str, dict[str, Any]]:
        return method, f"/api/v1/users/{await world.fresh_user()}", kwargs

    return call


def on_fresh_template(method: str, **kwargs: Any) -> Call:
    async def call(world: World) -> tuple[str, str, dict[str, Any]]:
        return method, f"/api/v1/templates/{await world.fresh_template()}", kwargs

    return call


def on_fresh_suppression(method: str, **kwargs: Any) -> Call:
    async def call(world: World) -> tuple[str, str, dict[str, Any]]:
        return method, f"/api/v1/suppressions/{await world.fresh_suppression()}", kwargs

    return call


async def requeue_delivery_a(world: World) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/api/v1/deliveries/requeue", {"json": {"ids": [world.send_delivery_a]}}


def on_fresh_webhook(method: str, **kwargs: Any) -> Call:
    async def call(world: World) -> tuple[str, str, dict[str, Any]]:
        return method, f"/api/v1/webhooks/endpoints/{await world.fresh_webhook()}", kwargs

    return call


M = "/api/v1/messages/{message_id}"
W = "/api/v1/webhooks/endpoints/{webhook_a}"
T = "/api/v1/templates/{template_a}"
D = "/api/v1/sending/domains/a-secret.test"
SEND = {"from": "app@example.test", "to": ["someone@example.test"], "subject": "s", "text": "t"}
BATCH = {"from": "app@example.test", "subject": "s", "text": "t", "recipients": [{"to": "r@example.test"}]}
WEBHOOK_URL = "https://93.184.215.14/hook"  # public, and the endpoints stay disabled: nothing is sent
# (method, route path, minimum role or None for public, the call to make)
ROUTES: list[tuple[str, str, Role | None, Call]] = [
    ("GET", "/api/v1/messages", Role.VIEWER, fixed("GET", "/api/v1/messages")),
    (
        "POST",
        "/api/v1/messages",
        Role.DEVELOPER,
        fixed("POST", "/api/v1/messages", json={"from": "a@example.com", "to": ["b@example.com"], "subject": "hi"}),
    ),
    (
        "PATCH",
        "/api/v1/messages",
        Role.DEVELOPER,
        fixed("PATCH", "/api/v1/messages", json={"ids": [0], "is_read": True}),
    ),
    (
        "DELETE",
        "/api/v1/messages",
        Role.DEVELOPER,
        fixed("DELETE", "/api/v1/messages", params={"query": "subject:nothing-matches-this"}),
    ),
    ("GET", "/api/v1/messages/{message_id}", Role.VIEWER, fixed("GET", M)),
    ("GET", "/api/v1/messages/{message_id}/raw", Role.VIEWER, fixed("GET", M + "/raw")),
    ("GET", "/api/v1/messages/{message_id}/html", Role.VIEWER, fixed("GET", M + "/html")),
    (
        "GET",
        "/api/v1/messages/{message_id}/attachments/{index}",
        Role.VIEWER,
        fixed("GET", M + "/attachments/{attachment_index}"),
    ),
    ("PATCH", "/api/v1/messages/{message_id}", Role.DEVELOPER, fixed("PATCH", M, json={"add_tags": ["x"]})),
    ("DELETE", "/api/v1/messages/{message_id}", Role.DEVELOPER, on_fresh_message("DELETE")),
    (
        "POST",
        "/api/v1/messages/{message_id}/release",
        Role.DEVELOPER,
        fixed("POST", M + "/release", json={"to": ["x@example.com"]}),
    ),
    ("GET", "/api/v1/events", Role.VIEWER, fixed("GET", "/api/v1/events")),
    ("GET", "/api/v1/events/stream", Role.VIEWER, fixed("GET", "/api/v1/events/stream")),
    ("POST", "/api/v1/auth/login", None, fixed("POST", "/api/v1/auth/login", json={"email": "x", "password": "y"})),
    ("POST", "/api/v1/auth/refresh", None, fixed("POST", "/api/v1/auth/refresh", json={"refresh_token": "x"})),
    ("POST", "/api/v1/auth/logout", None, fixed("POST", "/api/v1/auth/logout", json={"refresh_token": "x"})),
    ("GET", "/api/v1/auth/me", Role.VIEWER, fixed("GET", "/api/v1/auth/me")),
    (
        "POST",
        "/api/v1/auth/password",
        Role.VIEWER,
        fixed("POST", "/api/v1/auth/password", json={"current_password": "not-it", "new_password": "x" * 12}),
    ),
    ("GET", "/api/v1/users", Role.ADMIN, fixed("GET", "/api/v1/users")),
    (
        "POST",
        "/api/v1/users",
        Role.ADMIN,
        fixed(
            "POST",
            "/api/v1/users",
            json={"email": "new-{user_a}@example.com", "password": "password123", "role": "viewer"},
        ),
    ),
    ("GET", "/api/v1/users/{user_id}", Role.ADMIN, fixed("GET", "/api/v1/users/{user_a}")),
    ("PATCH", "/api/v1/users/{user_id}", Role.ADMIN, fixed("PATCH", "/api/v1/users/{user_a}", json={"name": "n"})),
    ("DELETE", "/api/v1/users/{user_id}", Role.ADMIN, on_fresh_user("DELETE")),
    ("GET", "/api/v1/api-keys", Role.DEVELOPER, fixed("GET", "/api/v1/api-keys")),
    ("POST", "/api/v1/api-keys", Role.DEVELOPER, fixed("POST", "/api/v1/api-keys", json={"name": "k"})),
    ("DELETE", "/api/v1/api-keys/{key_id}", Role.DEVELOPER, fixed("DELETE", "/api/v1/api-keys/{key_a}")),
    ("GET", "/api/v1/tenants", Role.SUPER_ADMIN, fixed("GET", "/api/v1/tenants")),
    (
        "POST",
        "/api/v1/tenants",
        Role.SUPER_ADMIN,
        fixed("POST", "/api/v1/tenants", json={"slug": "t-{user_a}", "name": "T"}),
    ),
    ("POST", "/internal/users", None, fixed("POST", "/internal/users", json={"email": "x@x.x", "password": "p"})),
    ("GET", "/api/v1/jobs", Role.ADMIN, fixed("GET", "/api/v1/jobs")),
    ("GET", "/api/v1/jobs/{job_id}", Role.ADMIN, fixed("GET", "/api/v1/jobs/{job_a}")),
    ("POST", "/api/v1/jobs/{job_id}/requeue", Role.ADMIN, fixed("POST", "/api/v1/jobs/{job_a}/requeue")),
    ("GET", "/api/v1/chaos", Role.SUPER_ADMIN, fixed("GET", "/api/v1/chaos")),
    ("PUT", "/api/v1/chaos", Role.SUPER_ADMIN, fixed("PUT", "/api/v1/chaos", json={})),
    ("DELETE", "/api/v1/chaos", Role.SUPER_ADMIN, fixed("DELETE", "/api/v1/chaos")),
    ("GET", "/api/v1/webhooks/endpoints", Role.DEVELOPER, fixed("GET", "/api/v1/webhooks/endpoints")),
    (
        "POST",
        "/api/v1/webhooks/endpoints",
        Role.ADMIN,
        fixed("POST", "/api/v1/webhooks/endpoints", json={"url": WEBHOOK_URL, "enabled": False}),
    ),
    ("GET", "/api/v1/webhooks/endpoints/{endpoint_id}", Role.DEVELOPER, fixed("GET", W)),
    ("PATCH", "/api/v1/webhooks/endpoints/{endpoint_id}", Role.ADMIN, fixed("PATCH", W, json={"description": "d"})),
    ("DELETE", "/api/v1/webhooks/endpoints/{endpoint_id}", Role.ADMIN, on_fresh_webhook("DELETE")),
    ("POST", "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", Role.ADMIN, fixed("POST", W + "/rotate-secret")),
    ("POST", "/api/v1/webhooks/endpoints/{endpoint_id}/test", Role.ADMIN, fixed("POST", W + "/test")),
    ("GET", "/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", Role.DEVELOPER, fixed("GET", W + "/deliveries")),
    (
        "POST",
        "/api/v1/webhooks/deliveries/{delivery_id}/retry",
        Role.ADMIN,
        fixed("POST", "/api/v1/webhooks/deliveries/{delivery_a}/retry"),
    ),
    ("GET", "/api/v1/emails", Role.VIEWER, fixed("GET", "/api/v1/emails")),
    ("GET", "/api/v1/admin/metrics", Role.VIEWER, fixed("GET", "/api/v1/admin/metrics", params={"hours": 1})),
    ("POST", "/api/v1/emails", Role.DEVELOPER, fixed("POST", "/api/v1/emails", json=SEND)),
    ("GET", "/api/v1/emails/{email_id}", Role.VIEWER, fixed("GET", "/api/v1/emails/{email_a}")),
    ("POST", "/api/v1/emails/{email_id}/cancel", Role.DEVELOPER, fixed("POST", "/api/v1/emails/{email_a}/cancel")),
    ("POST", "/api/v1/batches", Role.DEVELOPER, fixed("POST", "/api/v1/batches", json=BATCH)),
    ("GET", "/api/v1/batches/{batch_id}", Role.VIEWER, fixed("GET", "/api/v1/batches/{batch_a}")),
    ("POST", "/api/v1/batches/{batch_id}/cancel", Role.DEVELOPER, fixed("POST", "/api/v1/batches/{batch_a}/cancel")),
    ("GET", "/api/v1/deliveries", Role.VIEWER, fixed("GET", "/api/v1/deliveries")),
    ("GET", "/api/v1/deliveries/{delivery_id}", Role.VIEWER, fixed("GET", "/api/v1/deliveries/{send_delivery_a}")),
    (
        "POST",
        "/api/v1/deliveries/requeue",
        Role.ADMIN,
        requeue_delivery_a,
    ),
    ("GET", "/api/v1/suppressions", Role.VIEWER, fixed("GET", "/api/v1/suppressions")),
    (
        "POST",
        "/api/v1/suppressions",
        Role.DEVELOPER,
        fixed("POST", "/api/v1/suppressions", json={"address": "new@example.test"}),
    ),
    ("GET", "/api/v1/suppressions/{address}", Role.VIEWER, on_fresh_suppression("GET")),
    ("DELETE", "/api/v1/suppressions/{address}", Role.DEVELOPER, on_fresh_suppression("DELETE")),
    ("GET", "/api/v1/templates", Role.VIEWER, fixed("GET", "/api/v1/templates")),
    (
        "POST",
        "/api/v1/templates",
        Role.DEVELOPER,
        fixed("POST", "/api/v1/templates", json={"name": "n-{user_a}", "subject": "s", "text": "t"}),
    ),
    ("GET", "/api/v1/templates/{template_id}", Role.VIEWER, fixed("GET", T)),
    (
        "PUT",
        "/api/v1/templates/{template_id}",
        Role.DEVELOPER,
        fixed("PUT", T, json={"name": "x", "subject": "s", "text": "t"}),
    ),
    ("DELETE", "/api/v1/templates/{template_id}", Role.DEVELOPER, on_fresh_template("DELETE")),
    ("POST", "/api/v1/templates/{template_id}/preview", Role.VIEWER, fixed("POST", T + "/preview", json={})),
    (
        "POST",
        "/api/v1/templates/preview",
        Role.VIEWER,
        fixed("POST", "/api/v1/templates/preview", json={"subject": "s", "text": "{{ x }}"}),
    ),
    ("GET", "/api/v1/sending/transports", Role.ADMIN, fixed("GET", "/api/v1/sending/transports")),
    (
        "PUT",
        "/api/v1/sending/transports",
        Role.ADMIN,
        fixed("PUT", "/api/v1/sending/transports", json={"domain": "example.test", "provider": "capture"}),
    ),
    (
        "DELETE",
        "/api/v1/sending/transports",
        Role.ADMIN,
        fixed("DELETE", "/api/v1/sending/transports", params={"domain": "nothing.test"}),
    ),
    ("GET", "/api/v1/sending/domains", Role.VIEWER, fixed("GET", "/api/v1/sending/domains")),
    (
        "POST",
        "/api/v1/sending/domains",
        Role.ADMIN,
        fixed("POST", "/api/v1/sending/domains", json={"domain": "b.test"}),
    ),
    ("GET", "/api/v1/sending/domains/{domain}", Role.VIEWER, fixed("GET", D)),
    ("POST", "/api/v1/sending/domains/{domain}/rotate", Role.ADMIN, fixed("POST", D + "/rotate", json={})),
    ("GET", "/api/v1/sending/domains/{domain}/check", Role.ADMIN, fixed("GET", D + "/check")),
    ("DELETE", "/api/v1/sending/domains/{domain}", Role.ADMIN, fixed("DELETE", "/api/v1/sending/domains/gone.test")),
    ("GET", "/t/o/{token}", None, fixed("GET", "/t/o/not-a-token")),
    ("GET", "/t/c/{token}", None, fixed("GET", "/t/c/not-a-token", params={"url": "https://example.test/"})),
    ("GET", "/t/u/{token}", None, fixed("GET", "/t/u/not-a-token")),
    ("POST", "/t/u/{token}", None, fixed("POST", "/t/u/not-a-token")),
    ("POST", "/api/v1/webhooks/ses", None, fixed("POST", "/api/v1/webhooks/ses", content=b"{}")),
    ("POST", "/api/v1/webhooks/sendgrid", None, fixed("POST", "/api/v1/webhooks/sendgrid", content=b"[]")),
    ("POST", "/api/v1/webhooks/mailgun", None, fixed("POST", "/api/v1/webhooks/mailgun", content=b"{}")),
    ("POST", "/api/v1/webhooks/mailersend", None, fixed("POST", "/api/v1/webhooks/mailersend", content=b"{}")),
    ("GET", "/health", None, fixed("GET", "/health")),
    ("GET", "/ready", None, fixed("GET", "/ready")),
    ("GET", "/api/v1/health", None, fixed("GET", "/api/v1/health")),
    ("GET", "/api/v1/ready", None, fixed("GET", "/api/v1/ready")),
    ("GET", "/metrics", None, fixed("GET", "/metrics")),
    ("GET", "/", None, fixed("GET", "/")),
    ("GET", "/{path:path}", None, fixed("GET", "/messages/1")),
]
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


@pytest.fixture
async def world(live: LiveServer) -> World:
    postroom = live.postroom
    auth = postroom.auth
    tenant_a = postroom.default_tenant_id
    tenant_b = (await auth.create_tenant("tenant-b", "B"))["id"]
    tokens: dict[int, dict[Role, str]] = {tenant_a: {}, tenant_b: {}}
    users: dict[int, int] = {}
    for tenant in (tenant_a, tenant_b):
        for role in ROLES:
            email = f"{role.value}@{tenant}.example"
            user = await auth.create_user(tenant, email, "password123", role)
            users.setdefault(tenant, user["id"])
            tokens[tenant][role] = (await auth.login(email, "password123")).access_token
    key_a = await live.api_key(Role.VIEWER, tenant_a, name="a-key")
    key_id = (await auth.resolve_api_key(key_a)).api_key_id  # type: ignore[union-attr]
    world = World(
        live, tenant_a, tenant_b, 0, 0, users[tenant_a], int(key_id or 0), 0, tokens[tenant_a], tokens[tenant_b]
    )
    world.message_id = await world.fresh_message()
    detail = await postroom.messages.get(tenant_a, world.message_id)
    world.attachment_index = detail["attachments"][0]["index"]
    from postroom.core import jobs

    async with postroom.engine.begin() as conn:
        world.job_a = await jobs.enqueue(conn, "capture.release", {"message_id": 0}, tenant_id=tenant_a)
    world.webhook_a = await world.fresh_webhook()
    later = utcnow() + timedelta(days=1)  # stays queued: cancel and requeue have something to find
    sent = await postroom.sending.send_email(
        tenant_a, EmailRequest(sender="app@a.example", to=["x@a.example"], subject=SECRET, text=SECRET, send_at=later)
    )
    world.email_a = int(sent.body["id"])
    world.send_delivery_a = int(sent.body["recipients"][0]["id"])
    batch = await postroom.sending.send_batch(
        tenant_a,
        BatchRequest(sender="app@a.example", subject=SECRET, text=SECRET, send_at=later,
                     recipients=[BatchRecipient("y@a.example")]),
    )  # fmt: skip
    world.batch_a = int(batch.body["id"])
    world.template_a = await world.fresh_template()
    await postroom.domains.add(tenant_a, "a-secret.test", "ed25519")
    async with postroom.engine.begin() as conn:
        world.delivery_a = await record_attempt(
            conn,
            Attempt(
                tenant_id=tenant_a,
                endpoint_id=world.webhook_a,
                request=DeliveryRequest.for_event(world.webhook_a, 1),
                event_type="email.sent",
                job_id=None,
                attempt=1,
                status="failed",
                started_at=utcnow(),
                response_status=500,
                response_body=SECRET,  # what the receiver answered must not leak either
            ),
        )
    return world


def route_paths() -> set[tuple[str, str]]:
    found = set()
    for route in (route for router in ROUTERS for route in router.routes):
        if isinstance(route, APIRoute):
            found |= {(method, route.path) for method in route.methods if method != "HEAD"}
        elif isinstance(route, APIWebSocketRoute):
            found.add(("WS", route.path))
        elif getattr(route, "path", "") not in DOCS:
            found.add(("?", getattr(route, "path", "")))
    return found


def test_every_route_is_listed() -> None:
    listed = {(method, path) for method, path, _, _ in ROUTES} | {("WS", "/api/v1/events/ws")}
    assert route_paths() == listed


async def send(world: World, token: str | None, call: Call) -> httpx.Response:
    method, path, kwargs = await call(world)
    async with world.live.client(token) as client:
        if path.endswith("/stream"):
            async with client.stream(method, path, **kwargs) as response:
                await response.aclose()
                return response
        return await client.request(method, path, **kwargs)


async def test_each_role_gets_exactly_what_it_may(world: World) -> None:
    failures = []
    for method, path, minimum, call in ROUTES:
        for role in ROLES:
            response = await send(world, world.tokens_a[role], call)
            allowed = minimum is None or role.at_least(minimum)
            if allowed and response.status_code in (401, 403) and minimum is not None:
                failures.append(f"{role.value} refused {method} {path}: {response.status_code}")
            if not allowed and response.status_code != 403:
                failures.append(f"{role.value} got {response.status_code} on {method} {path}, expected 403")
            if response.status_code >= 500:
                failures.append(f"{method} {path} as {role.value}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_another_tenant_sees_and_touches_nothing(world: World) -> None:
    failures = []
    for method, path, minimum, call in ROUTES:
        if minimum is None:
            continue
        for role in (Role.ADMIN, Role.SUPER_ADMIN):
            response = await send(world, world.tokens_b[role], call)
            text = "" if path.endswith("/stream") else response.text
            if SECRET in text or "a.example" in text or f"{world.tenant_a}.example" in text:
                failures.append(f"{method} {path} as tenant B {role.value} leaked tenant A data")
            if "{" in path and response.status_code not in (403, 404, 409):
                failures.append(
                    f"{method} {path} on tenant A's resource as tenant B {role.value}: {response.status_code}"
                )
    assert not failures, "\n".join(failures)
    # Tenant A's message is untouched.
    detail = await world.live.postroom.messages.get(world.tenant_a, world.message_id)
    assert detail["tags"] == [] and detail["is_read"] is False


async def test_another_tenants_event_stream_stays_silent(world: World) -> None:
    url = world.live.base_url.replace("http", "ws") + f"/api/v1/events/ws?token={world.tokens_b[Role.ADMIN]}"
    async with websockets.connect(url) as ws:
        await asyncio.sleep(0.2)
        await world.fresh_message()
        with pytest.raises(TimeoutError):
            message = await asyncio.wait_for(ws.recv(), 1.5)
            pytest.fail(f"tenant B received {json.loads(message)}")
