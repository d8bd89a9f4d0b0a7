"""A running Postroom with its HTTP API served by uvicorn on loopback, for API tests."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from tests.services import free_port

from postroom.api.http import create_app
from postroom.app import Postroom
from postroom.auth.roles import Role
from postroom.auth.service import Principal
from postroom.config import Settings


@dataclass
class LiveServer:
    postroom: Postroom
    base_url: str
    server: uvicorn.Server

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)

    async def api_key(self, role: Role, tenant_id: int | None = None, name: str = "test") -> str:
        issuer = Principal(tenant_id=tenant_id or self.postroom.default_tenant_id, role=Role.SUPER_ADMIN)
        key, _ = await self.postroom.auth.create_api_key(issuer, name, role)
        return key


async def _serve(postroom: Postroom, *, auth_required: bool) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    port = free_port()
    app = create_app(postroom, auth_required=auth_required)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{port}"


LiveFactory = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def live_factory(settings: Settings) -> AsyncIterator[LiveFactory]:
    started: list[tuple[Postroom, uvicorn.Server, asyncio.Task[None]]] = []

    async def start(*, auth_required: bool = True, smtp: bool = False, **overrides: object) -> LiveServer:
        postroom = Postroom(settings.model_copy(update=overrides) if overrides else settings)
        await postroom.start(smtp=smtp)
        server, task, url = await _serve(postroom, auth_required=auth_required)
        started.append((postroom, server, task))
        return LiveServer(postroom, url, server)

    yield start
    for postroom, server, task in started:
        server.should_exit = True
        await _within(STOP_SECONDS, task, "uvicorn's shutdown")
        await _within(STOP_SECONDS, postroom.stop(), "Postroom.stop()")


STOP_SECONDS = 60.0  # under pytest's own timeout, so a hang reports where every task waits


async def _within(seconds: float, awaitable: Awaitable[None], what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        raise AssertionError(
            f"{what} did not finish within {seconds:.0f} s; the stacks of all tasks are above"
        ) from None


@pytest.fixture
async def live(live_factory: LiveFactory) -> LiveServer:
    """Auth enforced, SMTP off: the API alone."""
    return await live_factory(auth_required=True)
