"""Builds the FastAPI application around a running Postroom."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from postroom import __version__
from postroom.api import problems
from postroom.api.routes import access, admin, events, messages, ops, provider_webhooks, send, tracking, web, webhooks
from postroom.app import Postroom

# web last: its catch-all answers only what no other router does.
ROUTERS = (
    messages.router,
    events.router,
    access.router,
    admin.router,
    send.router,
    provider_webhooks.router,
    tracking.router,
    webhooks.router,
    ops.router,
    web.router,
)


def create_app(postroom: Postroom, *, auth_required: bool, manage_lifecycle: bool = False) -> FastAPI:
    """``manage_lifecycle``: start and stop ``postroom`` with the HTTP server (``postroom api``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await postroom.start(smtp=False, workers=postroom.settings.run_workers)
        try:
            yield
        finally:
            if manage_lifecycle:
                await postroom.stop()

    app = FastAPI(
        title="Postroom",
        version=__version__,
        description="Catch, send, sync, understand and automate email. Errors are application/problem+json.",
        lifespan=lifespan,
    )
    app.state.postroom = postroom
    app.state.auth_required = auth_required
    problems.install(app)
    if postroom.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=postroom.settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    for router in ROUTERS:
        app.include_router(router)
    return app


def create_ops_app(postroom: Postroom) -> FastAPI:
    """Only /health, /ready and /metrics: for processes that serve no API (``postroom smtp``, ``worker``)."""
    app = FastAPI(title="Postroom operations", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.postroom = postroom
    app.state.auth_required = True
    problems.install(app)
    app.include_router(ops.router)
    return app
