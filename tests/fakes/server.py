"""The part every fake provider shares: a Starlette app served by uvicorn on a free loopback port,
a record of what it received, and answers that a test can script ahead of time."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.services import free_port


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[Any]] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Scripted:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status_code=status, media_type="application/json", headers=headers)


class FakeServer:
    """Subclasses list their routes in ``routes()``; handlers call ``self.record(request)`` first."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.issued_ids: list[str] = []  # provider message ids handed out, in order
        self._script: list[Scripted] = []
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.scheme = "http"

    def routes(self) -> list[Route]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def answer_next(
        self, status: int, body: Any = b"", headers: dict[str, str] | None = None, *, delay: float = 0.0
    ) -> None:
        """Make the next request get this answer (after ``delay`` seconds) instead of the normal one."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._script.append(Scripted(status, raw, dict(headers or {}), delay))

    async def scripted(self) -> Response | None:
        if not self._script:
            return None
        answer = self._script.pop(0)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    async def record(self, request: Request, *, form: bool = False) -> Received:
        body = await request.body()
        received = Received(request.method, request.url.path, request.url.query, dict(request.headers), body)
        if form:
            parsed = await request.form()
            for name, value in parsed.multi_items():
                item: Any = value
                if not isinstance(value, str):
                    item = (value.filename, value.content_type, await value.read())
                received.form.setdefault(name, []).append(item)
        self.received.append(received)
        return received

    async def start(self, *, certfile: Path | None = None, keyfile: Path | None = None) -> None:
        self.port = free_port()
        if certfile is not None:
            self.scheme = "https"
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="off",
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
