"""The live event stream: Server-Sent Events and a WebSocket, both resumable by event id."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from postroom.api.deps import PostroomDep, Reader, resolve_principal
from postroom.auth.roles import Permission, allows
from postroom.auth.service import AuthError
from postroom.core import events

router = APIRouter(prefix="/api/v1/events", tags=["events"])

KEEPALIVE_SECONDS = 15.0
TypesQuery = Annotated[str | None, Query(description="comma-separated event types; default: all")]


def _types(value: str | None) -> set[str] | None:
    return {t.strip() for t in value.split(",") if t.strip()} if value else None


@router.get("")
async def list_events(
    postroom: PostroomDep,
    principal: Reader,
    after: int = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The event log by cursor, for consumers that poll."""
    async with postroom.engine.connect() as conn:
        safe, _ = await postroom.hub.horizon.safe_upto(conn, after)
        records = await events.read_after(conn, principal.tenant_id, after, limit, upto=safe)
    return {"items": [r.to_json() for r in records], "next_after": records[-1].id if records else after}


@router.get("/stream")
async def stream_events(
    postroom: PostroomDep, principal: Reader, request: Request, types: TypesQuery = None
) -> StreamingResponse:
    last = request.headers.get("last-event-id") or request.query_params.get("after")
    after = int(last) if last and last.isdigit() else None

    async def body() -> AsyncIterator[str]:
        yield ": connected\n\n"
        source = postroom.hub.stream(principal.tenant_id, after, _types(types)).__aiter__()
        pending: asyncio.Task[events.EventRecord] | None = None
        try:
            while not await request.is_disconnected():
                pending = pending or asyncio.ensure_future(source.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
                if not done:
                    yield ": keep-alive\n\n"
                    continue
                record = pending.result()
                pending = None
                yield f"id: {record.id}\nevent: {record.type}\ndata: {json.dumps(record.to_json())}\n\n"
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
            await source.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.websocket("/ws")
async def websocket_events(websocket: WebSocket, types: TypesQuery = None, after: int | None = None) -> None:
    # Accept first: a browser cannot read an HTTP status, but it can read a close code.
    await websocket.accept()
    try:
        principal = await resolve_principal(websocket)
    except AuthError as exc:
        await websocket.close(code=4401, reason=str(exc)[:120])
        return
    if not allows(principal.role, Permission.MESSAGES_READ):
        await websocket.close(code=4403, reason="forbidden")
        return
    postroom = websocket.app.state.postroom

    async def forward() -> None:
        async for record in postroom.hub.stream(principal.tenant_id, after, _types(types)):
            await websocket.send_json(record.to_json())

    sender = asyncio.create_task(forward())
    try:
        while True:  # the client may send pings; we only watch for the close
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
