"""Typed dependencies the routes share: the running Postroom and who is calling."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from postroom.app import Postroom
from postroom.auth.roles import Permission, Role, allows
from postroom.auth.secrets import looks_like_api_key
from postroom.auth.service import AuthError, Forbidden, Principal


def get_postroom(request: HTTPConnection) -> Postroom:
    postroom: Postroom = request.app.state.postroom
    return postroom


PostroomDep = Annotated[Postroom, Depends(get_postroom)]


def credential_of(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if connection.headers.get("x-api-key"):
        return connection.headers["x-api-key"].strip()
    # EventSource and WebSocket clients cannot set headers.
    return connection.query_params.get("token") or connection.query_params.get("access_token")


async def resolve_principal(connection: HTTPConnection) -> Principal:
    postroom = get_postroom(connection)
    credential = credential_of(connection)
    if credential is None:
        if connection.app.state.auth_required:
            raise AuthError("authentication required: send 'Authorization: Bearer <token or API key>'")
        return Principal(tenant_id=postroom.default_tenant_id, role=Role.SUPER_ADMIN, via="open")
    if looks_like_api_key(credential):
        principal = await postroom.auth.resolve_api_key(credential)
        if principal is None:
            raise AuthError("unknown, expired or revoked API key")
        return principal
    return await postroom.auth.principal_from_access_token(credential)


async def current_principal(request: Request) -> Principal:
    principal: Principal = await resolve_principal(request)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not allows(principal.role, permission):
            raise Forbidden(f"your role ({principal.role.value}) may not {permission.value}")
        return principal

    return dependency


Reader = Annotated[Principal, Depends(require(Permission.MESSAGES_READ))]
Writer = Annotated[Principal, Depends(require(Permission.MESSAGES_WRITE))]
KeyOwner = Annotated[Principal, Depends(require(Permission.KEYS_OWN))]
Admin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
EmailReader = Annotated[Principal, Depends(require(Permission.EMAILS_READ))]
EmailSender = Annotated[Principal, Depends(require(Permission.EMAILS_SEND))]
SendingAdmin = Annotated[Principal, Depends(require(Permission.SENDING_MANAGE))]
JobAdmin = Annotated[Principal, Depends(require(Permission.JOBS_MANAGE))]
SuperAdmin = Annotated[Principal, Depends(require(Permission.TENANTS_MANAGE))]
ServerAdmin = Annotated[Principal, Depends(require(Permission.SERVER_MANAGE))]
