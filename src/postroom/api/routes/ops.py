"""Health, readiness and Prometheus metrics (at the root and under /api/v1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from postroom.api.deps import PostroomDep
from postroom.core import jobs, metrics
from postroom.send import metrics as send_metrics
from postroom.send import queue
from postroom.store.migrate import is_up_to_date
from postroom.store.models import Message

router = APIRouter(tags=["operations"])


async def _health(postroom: PostroomDep) -> JSONResponse:
    if await postroom.database_ok():
        return JSONResponse({"status": "healthy", "database": "connected"})
    return JSONResponse({"status": "unhealthy", "database": "disconnected"}, status_code=503)


async def _ready(postroom: PostroomDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        checks["migrations"] = "current" if await is_up_to_date(postroom.engine) else "pending"
        async with postroom.engine.connect() as conn:
            checks["queue"] = await jobs.depth(conn)
    except Exception as exc:
        return JSONResponse({"status": "not ready", "error": str(exc)}, status_code=503)
    ready = checks["migrations"] == "current"
    return JSONResponse({"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503)


for prefix in ("", "/api/v1"):
    router.add_api_route(f"{prefix}/health", _health, methods=["GET"], include_in_schema=prefix == "/api/v1")
    router.add_api_route(f"{prefix}/ready", _ready, methods=["GET"], include_in_schema=prefix == "/api/v1")


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(postroom: PostroomDep) -> Response:
    async with postroom.engine.connect() as conn:
        count, size = (await conn.execute(select(func.count(), func.coalesce(func.sum(Message.size), 0)))).one()
        send_metrics.EMAIL_QUEUE_SIZE.set(await queue.depth(conn))
    metrics.STORED_MESSAGES.set(count)
    metrics.STORED_BYTES.set(size)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
