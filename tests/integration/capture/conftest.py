"""A started Postroom (SMTP on a free port) per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tests.integration.capture.capture_support import Sink

from postroom.app import Postroom
from postroom.config import Settings

AppFactory = Callable[..., Awaitable[Postroom]]


@pytest.fixture
async def start_app(settings: Settings) -> AsyncIterator[AppFactory]:
    started: list[Postroom] = []

    async def start(*, workers: bool = False, **overrides: object) -> Postroom:
        app = Postroom(settings.model_copy(update=overrides))
        await app.start(workers=workers)
        started.append(app)
        return app

    yield start
    for app in reversed(started):
        await app.stop()


@pytest.fixture
async def app(start_app: AppFactory) -> Postroom:
    return await start_app()


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    server = Sink()
    await server.start()
    yield server
    await server.stop()
