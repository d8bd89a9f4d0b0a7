"""Sessions, users, API keys and tenants."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from postroom.api.deps import Admin, CurrentPrincipal, KeyOwner, PostroomDep, SuperAdmin
from postroom.api.problems import Problem
from postroom.auth.roles import Permission, Role, allows, permissions_of
from postroom.auth.service import Principal, parse_role

router = APIRouter(tags=["access"])

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class Login(BaseModel):
    email: str
    password: str


class Refresh(BaseModel):
    refresh_token: str


class NewUser(BaseModel):
    email: str
    password: str = Field(..., min_length=1)
    role: str = Role.VIEWER.value
    name: str = ""


class UserPatch(BaseModel):
    role: str | None = None
    is_active: bool | None = None
    name: str | None = None
    password: str | None = None


class NewApiKey(BaseModel):
    name: str
    role: str | None = Field(None, description="default: your own role; never above it")


class NewTenant(BaseModel):
    slug: str
    name: str


class Bootstrap(BaseModel):
    email: str
    password: str
    name: str = ""
    tenant: str = Field("default", description="slug of the tenant (created when missing)")


@router.post("/api/v1/auth/login")
async def login(postroom: PostroomDep, body: Login) -> dict[str, Any]:
    return (await postroom.auth.login(body.email, body.password)).to_json()


@router.post("/api/v1/auth/refresh")
async def refresh(postroom: PostroomDep, body: Refresh) -> dict[str, Any]:
    return (await postroom.auth.refresh(body.refresh_token)).to_json()


@router.post("/api/v1/auth/logout", status_code=204)
async def logout(postroom: PostroomDep, body: Refresh) -> Response:
    await postroom.auth.logout(body.refresh_token)
    return Response(status_code=204)


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


@router.post("/api/v1/auth/password", summary="Change your own password; answers fresh tokens")
async def change_password(postroom: PostroomDep, principal: CurrentPrincipal, body: PasswordChange) -> dict[str, Any]:
    pair = await postroom.auth.change_own_password(principal, body.current_password, body.new_password)
    return pair.to_json()


@router.get("/api/v1/auth/me")
async def me(postroom: PostroomDep, principal: CurrentPrincipal) -> dict[str, Any]:
    user = await postroom.auth.get_user(principal.tenant_id, principal.user_id) if principal.user_id else None
    return {
        "tenant": await postroom.auth.get_tenant(principal.tenant_id),
        "role": principal.role.value,
        "via": principal.via,
        "user": user,
        "api_key_id": principal.api_key_id,
        "permissions": permissions_of(principal.role),
        "auth_required": postroom.settings.auth_is_required(),
    }


# ---- users (admins manage their own tenant) ----------------------------------------
@router.get("/api/v1/users")
async def list_users(postroom: PostroomDep, principal: Admin) -> dict[str, Any]:
    return {"items": await postroom.auth.list_users(principal.tenant_id)}


@router.post("/api/v1/users", status_code=201)
async def create_user(postroom: PostroomDep, principal: Admin, body: NewUser) -> dict[str, Any]:
    role = parse_role(body.role)
    if not principal.role.at_least(role):
        raise Problem(403, "you cannot create a user with a role above your own")
    return await postroom.auth.create_user(principal.tenant_id, body.email, body.password, role, body.name)


@router.get("/api/v1/users/{user_id}")
async def get_user(postroom: PostroomDep, principal: Admin, user_id: int) -> dict[str, Any]:
    return await postroom.auth.get_user(principal.tenant_id, user_id)


@router.patch("/api/v1/users/{user_id}")
async def update_user(postroom: PostroomDep, principal: Admin, user_id: int, body: UserPatch) -> dict[str, Any]:
    return await postroom.auth.update_user(
        principal,
        user_id,
        role=parse_role(body.role) if body.role else None,
        is_active=body.is_active,
        name=body.name,
        password=body.password,
    )


@router.delete("/api/v1/users/{user_id}", status_code=204)
async def delete_user(postroom: PostroomDep, principal: Admin, user_id: int) -> Response:
    await postroom.auth.delete_user(principal, user_id)
    return Response(status_code=204)


# ---- API keys -------------------------------------------------------------------------
def _manages_all_keys(principal: Principal) -> bool:
    return allows(principal.role, Permission.USERS_MANAGE)


@router.get("/api/v1/api-keys")
async def list_api_keys(postroom: PostroomDep, principal: KeyOwner) -> dict[str, Any]:
    items = await postroom.auth.list_api_keys(principal, everyone=_manages_all_keys(principal))
    return {"items": items}


@router.post("/api/v1/api-keys", status_code=201)
async def create_api_key(postroom: PostroomDep, principal: KeyOwner, body: NewApiKey) -> dict[str, Any]:
    role = parse_role(body.role) if body.role else None
    key, stored = await postroom.auth.create_api_key(principal, body.name, role)
    return {**stored, "key": key, "note": "store this key now: it is not shown again"}


@router.delete("/api/v1/api-keys/{key_id}", status_code=204)
async def revoke_api_key(postroom: PostroomDep, principal: KeyOwner, key_id: int) -> Response:
    await postroom.auth.revoke_api_key(principal, key_id, any_owner=_manages_all_keys(principal))
    return Response(status_code=204)


# ---- tenants (super admins) -----------------------------------------------------------
@router.get("/api/v1/tenants")
async def list_tenants(postroom: PostroomDep, principal: SuperAdmin) -> dict[str, Any]:
    return {"items": await postroom.auth.list_tenants()}


@router.post("/api/v1/tenants", status_code=201)
async def create_tenant(postroom: PostroomDep, principal: SuperAdmin, body: NewTenant) -> dict[str, Any]:
    return await postroom.auth.create_tenant(body.slug, body.name)


# ---- first admin ----------------------------------------------------------------------
@router.post("/internal/users", status_code=201, include_in_schema=False)
async def bootstrap_admin(postroom: PostroomDep, request: Request, body: Bootstrap) -> dict[str, Any]:
    """Create the first super admin: only from loopback, or anywhere with the bootstrap token."""
    token = postroom.settings.bootstrap_token
    given = request.headers.get("x-bootstrap-token", "")
    client = request.client.host if request.client else ""
    if token and given:
        if not hmac.compare_digest(token, given):
            raise Problem(403, "wrong bootstrap token")
    elif client not in LOOPBACK:
        raise Problem(403, "the first admin can only be created from loopback or with X-Bootstrap-Token")
    if await postroom.auth.has_users():
        raise Problem(409, "users exist already; sign in and create more from /api/v1/users")
    try:
        tenant = await postroom.auth.tenant_by_slug(body.tenant)
    except LookupError:
        tenant = await postroom.auth.create_tenant(body.tenant, body.tenant)
    return await postroom.auth.create_user(tenant["id"], body.email, body.password, Role.SUPER_ADMIN, body.name)
