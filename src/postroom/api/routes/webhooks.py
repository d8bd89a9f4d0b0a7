"""Outgoing webhook endpoints, their secrets and their delivery log.

Developers may read endpoints and the delivery log (they debug the integration);
admins create, change, delete, rotate, test and resend. Viewers see nothing here:
endpoint URLs often carry tokens and the log carries receivers' answers. The
signing secret is shown only in the answers to create and rotate-secret.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from postroom.api.deps import CurrentPrincipal, PostroomDep
from postroom.auth.roles import Role
from postroom.auth.service import Forbidden, Principal
from postroom.automation.webhooks import KEEP

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600


def _at_least(role: Role, action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.role.at_least(role):
            raise Forbidden(f"your role ({principal.role.value}) may not {action}")
        return principal

    return dependency


HookReader = Annotated[Principal, Depends(_at_least(Role.DEVELOPER, "read webhook endpoints"))]
HookAdmin = Annotated[Principal, Depends(_at_least(Role.ADMIN, "manage webhook endpoints"))]


class NewEndpoint(BaseModel):
    url: str = Field(..., description="http(s) URL that receives a POST per event")
    description: str = ""
    event_types: list[str] | None = Field(
        None, description="event types to send ('email.bounced', 'email.*'); null or empty: every type"
    )
    enabled: bool = True


class EndpointPatch(BaseModel):
    url: str | None = None
    description: str | None = None
    event_types: list[str] | None = Field(None, description="null or empty: every type; leave out to keep")
    enabled: bool | None = None


class Rotation(BaseModel):
    keep_old_seconds: int = Field(
        24 * 3600,
        ge=0,
        le=MAX_ROTATION_GRACE_SECONDS,
        description="how long the old secret keeps signing alongside the new one (0: revoke it now)",
    )


@router.get("/endpoints")
async def list_endpoints(postroom: PostroomDep, principal: HookReader) -> dict[str, Any]:
    return {"items": await postroom.webhooks.list_endpoints(principal.tenant_id)}


@router.post("/endpoints", status_code=201)
async def create_endpoint(postroom: PostroomDep, principal: HookAdmin, body: NewEndpoint) -> dict[str, Any]:
    """The answer holds the signing ``secret``; it is not shown again."""
    return await postroom.webhooks.create(
        principal.tenant_id, body.url, description=body.description, event_types=body.event_types, enabled=body.enabled
    )


@router.get("/endpoints/{endpoint_id}")
async def get_endpoint(postroom: PostroomDep, principal: HookReader, endpoint_id: int) -> dict[str, Any]:
    return await postroom.webhooks.get(principal.tenant_id, endpoint_id)


@router.patch("/endpoints/{endpoint_id}")
async def update_endpoint(
    postroom: PostroomDep, principal: HookAdmin, endpoint_id: int, body: EndpointPatch
) -> dict[str, Any]:
    return await postroom.webhooks.update(
        principal.tenant_id,
        endpoint_id,
        url=body.url,
        description=body.description,
        event_types=body.event_types if "event_types" in body.model_fields_set else KEEP,
        enabled=body.enabled,
    )


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(postroom: PostroomDep, principal: HookAdmin, endpoint_id: int) -> Response:
    await postroom.webhooks.delete(principal.tenant_id, endpoint_id)
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/rotate-secret")
async def rotate_secret(
    postroom: PostroomDep, principal: HookAdmin, endpoint_id: int, body: Rotation | None = None
) -> dict[str, Any]:
    keep = timedelta(seconds=(body or Rotation()).keep_old_seconds)
    return await postroom.webhooks.rotate_secret(principal.tenant_id, endpoint_id, keep_old=keep)


@router.post("/endpoints/{endpoint_id}/test", status_code=202)
async def send_test(postroom: PostroomDep, principal: HookAdmin, endpoint_id: int) -> dict[str, Any]:
    queued = await postroom.webhooks.send_test(principal.tenant_id, endpoint_id)
    postroom.worker.notify()
    return queued


@router.get("/endpoints/{endpoint_id}/deliveries")
async def list_deliveries(
    postroom: PostroomDep,
    principal: HookReader,
    endpoint_id: int,
    before: Annotated[int | None, Query(description="the next_before of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Literal["succeeded", "failed", "dead"] | None = None,
    event_id: int | None = None,
) -> dict[str, Any]:
    return await postroom.webhooks.list_deliveries(
        principal.tenant_id, endpoint_id, before=before, limit=limit, status=status, event_id=event_id
    )


@router.post("/deliveries/{delivery_id}/retry", status_code=202)
async def retry_delivery(postroom: PostroomDep, principal: HookAdmin, delivery_id: int) -> dict[str, Any]:
    queued = await postroom.webhooks.retry_delivery(principal.tenant_id, delivery_id)
    postroom.worker.notify()
    return queued
