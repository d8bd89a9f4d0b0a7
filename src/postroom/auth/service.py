"""Tenants, users, API keys and sessions: every rule about who may act for which tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from postroom.auth import secrets
from postroom.auth.models import ApiKey, RefreshToken, Tenant, User
from postroom.auth.roles import Role
from postroom.config import Settings
from postroom.store.types import utcnow

DEFAULT_TENANT_SLUG = "default"
MIN_PASSWORD_LENGTH = 8
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class AuthError(Exception):
    """Credentials are missing, wrong or expired (HTTP 401)."""


class Forbidden(Exception):
    """Authenticated, but the role does not allow this (HTTP 403)."""


class Conflict(Exception):
    """The thing exists already (HTTP 409)."""


class NotFound(LookupError):
    pass


class InvalidInput(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who is acting: always exactly one tenant and one role."""

    tenant_id: int
    role: Role
    user_id: int | None = None
    api_key_id: int | None = None
    via: str = "open"  # "open" | "jwt" | "api_key"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


def user_json(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "tenant_id": user.tenant_id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "is_active": user.is_active,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def api_key_json(key: Any) -> dict[str, Any]:
    return {
        "id": key.id,
        "tenant_id": key.tenant_id,
        "user_id": key.user_id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def tenant_json(tenant: Any) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "created_at": tenant.created_at.isoformat(),
    }


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInput(f"role must be one of {', '.join(r.value for r in Role)}") from exc


class AuthService:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    # ---- tenants -------------------------------------------------------------------
    async def ensure_default_tenant(self) -> int:
        async with self.engine.begin() as conn:
            found = await conn.scalar(select(Tenant.id).where(Tenant.slug == DEFAULT_TENANT_SLUG))
            if found is not None:
                return int(found)
        try:
            return (await self.create_tenant(DEFAULT_TENANT_SLUG, "Default"))["id"]  # type: ignore[no-any-return]
        except Conflict:  # another process created it meanwhile
            return await self.ensure_default_tenant()

    async def create_tenant(self, slug: str, name: str) -> dict[str, Any]:
        if not SLUG.match(slug):
            raise InvalidInput("slug must be lowercase letters, digits and dashes (1-63 characters)")
        try:
            async with self.engine.begin() as conn:
                tenant_id = await conn.scalar(
                    insert(Tenant).values(slug=slug, name=name, created_at=utcnow()).returning(Tenant.id)
                )
        except IntegrityError as exc:
            raise Conflict(f"tenant {slug!r} exists already") from exc
        return await self.get_tenant(int(tenant_id or 0))

    async def get_tenant(self, tenant_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Tenant).where(Tenant.id == tenant_id))).first()
        if row is None:
            raise NotFound(f"tenant {tenant_id}")
        return tenant_json(row)

    async def tenant_by_slug(self, slug: str) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Tenant).where(Tenant.slug == slug))).first()
        if row is None:
            raise NotFound(f"tenant {slug!r}")
        return tenant_json(row)

    async def list_tenants(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [tenant_json(r) for r in await conn.execute(select(Tenant).order_by(Tenant.id))]

    # ---- users ---------------------------------------------------------------------
    async def create_user(
        self, tenant_id: int, email: str, password: str, role: Role, name: str = ""
    ) -> dict[str, Any]:
        email = email.strip().lower()
        if "@" not in email or len(email) > 320:
            raise InvalidInput("email must be an email address")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        await self.get_tenant(tenant_id)
        try:
            async with self.engine.begin() as conn:
                user_id = await conn.scalar(
                    insert(User)
                    .values(
                        tenant_id=tenant_id,
                        email=email,
                        name=name,
                        password_hash=secrets.hash_password(password),
                        role=role.value,
                        is_active=True,
                        created_at=utcnow(),
                    )
                    .returning(User.id)
                )
        except IntegrityError as exc:
            raise Conflict(f"a user with email {email} exists already") from exc
        return await self.get_user(tenant_id, int(user_id or 0))

    async def has_users(self) -> bool:
        async with self.engine.connect() as conn:
            return await conn.scalar(select(User.id).limit(1)) is not None

    async def get_user(self, tenant_id: int, user_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(User).where(User.id == user_id, User.tenant_id == tenant_id))).first()
        if row is None:
            raise NotFound(f"user {user_id}")
        return user_json(row)

    async def list_users(self, tenant_id: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(User).where(User.tenant_id == tenant_id).order_by(User.id))
            return [user_json(r) for r in rows]

    async def update_user(
        self,
        actor: Principal,
        user_id: int,
        *,
        role: Role | None = None,
        is_active: bool | None = None,
        name: str | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        target = await self.get_user(actor.tenant_id, user_id)
        if role is not None and not actor.role.at_least(role):
            raise Forbidden("you cannot grant a role above your own")
        if not actor.role.at_least(Role(target["role"])):
            raise Forbidden("you cannot change a user whose role is above your own")
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role.value
        if is_active is not None:
            values["is_active"] = is_active
        if name is not None:
            values["name"] = name
        if password is not None:
            if len(password) < MIN_PASSWORD_LENGTH:
                raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
            values["password_hash"] = secrets.hash_password(password)
        if values:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(User).where(User.id == user_id, User.tenant_id == actor.tenant_id).values(values)
                )
                if is_active is False or password is not None:
                    await conn.execute(
                        update(RefreshToken)
                        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                        .values(revoked_at=utcnow())
                    )
        return await self.get_user(actor.tenant_id, user_id)

    async def change_own_password(self, actor: Principal, current: str, new: str) -> TokenPair:
        """A signed-in user replaces their password; every other session of theirs ends."""
        if actor.user_id is None:
            raise InvalidInput("only a signed-in user has a password (API keys and open mode do not)")
        async with self.engine.connect() as conn:
            user = (await conn.execute(select(User).where(User.id == actor.user_id))).first()
        if user is None or not secrets.verify_password(user.password_hash, current):
            raise InvalidInput("the current password is wrong")
        if len(new) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
        async with self.engine.begin() as conn:
            await conn.execute(update(User).where(User.id == user.id).values(password_hash=secrets.hash_password(new)))
            await conn.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return await self._issue(user.id, user.tenant_id, user.role)

    async def delete_user(self, actor: Principal, user_id: int) -> None:
        target = await self.get_user(actor.tenant_id, user_id)
        if not actor.role.at_least(Role(target["role"])):
            raise Forbidden("you cannot delete a user whose role is above your own")
        if target["id"] == actor.user_id:
            raise InvalidInput("you cannot delete yourself")
        async with self.engine.begin() as conn:
            await conn.execute(delete(User).where(User.id == user_id, User.tenant_id == actor.tenant_id))

    # ---- sessions (JWT) ------------------------------------------------------------
    async def login(self, email: str, password: str) -> TokenPair:
        async with self.engine.connect() as conn:
            user = (await conn.execute(select(User).where(User.email == email.strip().lower()))).first()
        if user is None or not secrets.verify_password(user.password_hash, password):
            raise AuthError("wrong email or password")
        if not user.is_active:
            raise AuthError("this user is deactivated")
        async with self.engine.begin() as conn:
            await conn.execute(update(User).where(User.id == user.id).values(last_login_at=utcnow()))
        return await self._issue(user.id, user.tenant_id, user.role)

    async def _issue(self, user_id: int, tenant_id: int, role: str) -> TokenPair:
        access, _ = secrets.issue_token(
            self.settings.jwt_secret,
            user_id=user_id,
            tenant_id=tenant_id,
            role=role,
            kind="access",
            lifetime=timedelta(minutes=self.settings.jwt_access_minutes),
        )
        refresh, claims = secrets.issue_token(
            self.settings.jwt_secret,
            user_id=user_id,
            tenant_id=tenant_id,
            role=role,
            kind="refresh",
            lifetime=timedelta(days=self.settings.jwt_refresh_days),
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(RefreshToken).values(jti=claims.jti, user_id=user_id, expires_at=claims.expires_at)
            )
        return TokenPair(access, refresh, self.settings.jwt_access_minutes * 60)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair; the old refresh token stops working."""
        try:
            claims = secrets.read_token(self.settings.jwt_secret, refresh_token, "refresh")
        except secrets.TokenError as exc:
            raise AuthError(str(exc)) from exc
        async with self.engine.begin() as conn:
            revoked = await conn.execute(
                update(RefreshToken)
                .where(RefreshToken.jti == claims.jti, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            if not revoked.rowcount:
                raise AuthError("this refresh token was revoked or used already")
            user = (await conn.execute(select(User).where(User.id == claims.user_id))).first()
        if user is None or not user.is_active:
            raise AuthError("this user no longer exists or is deactivated")
        return await self._issue(user.id, user.tenant_id, user.role)

    async def logout(self, refresh_token: str) -> None:
        try:
            claims = secrets.read_token(self.settings.jwt_secret, refresh_token, "refresh")
        except secrets.TokenError as exc:
            raise AuthError(str(exc)) from exc
        async with self.engine.begin() as conn:
            await conn.execute(update(RefreshToken).where(RefreshToken.jti == claims.jti).values(revoked_at=utcnow()))

    async def principal_from_access_token(self, token: str) -> Principal:
        try:
            claims = secrets.read_token(self.settings.jwt_secret, token, "access")
        except secrets.TokenError as exc:
            raise AuthError(str(exc)) from exc
        async with self.engine.connect() as conn:
            user = (await conn.execute(select(User).where(User.id == claims.user_id))).first()
        if user is None or not user.is_active:
            raise AuthError("this user no longer exists or is deactivated")
        # The role is read fresh, so a demotion takes effect before the token expires.
        return Principal(tenant_id=user.tenant_id, role=Role(user.role), user_id=user.id, via="jwt")

    # ---- API keys ------------------------------------------------------------------
    async def create_api_key(
        self, actor: Principal, name: str, role: Role | None = None, tenant_id: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Returns (the secret key, shown only now; its stored description)."""
        role = role or actor.role
        if not actor.role.at_least(role):
            raise Forbidden("an API key cannot have a role above its creator's")
        if not name.strip():
            raise InvalidInput("name must not be empty")
        key = secrets.new_api_key()
        async with self.engine.begin() as conn:
            key_id = await conn.scalar(
                insert(ApiKey)
                .values(
                    tenant_id=tenant_id or actor.tenant_id,
                    user_id=actor.user_id,
                    name=name.strip()[:200],
                    prefix=key[:10],
                    key_hash=secrets.hash_api_key(key),
                    role=role.value,
                    created_at=utcnow(),
                )
                .returning(ApiKey.id)
            )
        return key, await self.get_api_key(tenant_id or actor.tenant_id, int(key_id or 0))

    async def get_api_key(self, tenant_id: int, key_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id))).first()
        if row is None:
            raise NotFound(f"API key {key_id}")
        return api_key_json(row)

    async def list_api_keys(self, actor: Principal, *, everyone: bool) -> list[dict[str, Any]]:
        query = select(ApiKey).where(ApiKey.tenant_id == actor.tenant_id).order_by(ApiKey.id)
        if not everyone:
            query = query.where(ApiKey.user_id == actor.user_id)
        async with self.engine.connect() as conn:
            return [api_key_json(r) for r in await conn.execute(query)]

    async def revoke_api_key(self, actor: Principal, key_id: int, *, any_owner: bool) -> None:
        key = await self.get_api_key(actor.tenant_id, key_id)
        if not any_owner and key["user_id"] != actor.user_id:
            raise NotFound(f"API key {key_id}")
        async with self.engine.begin() as conn:
            await conn.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.tenant_id == actor.tenant_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )

    async def resolve_api_key(self, key: str) -> Principal | None:
        if not secrets.looks_like_api_key(key):
            return None
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ApiKey).where(ApiKey.key_hash == secrets.hash_api_key(key)))).first()
        now = utcnow()
        if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at < now):
            return None
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            async with self.engine.begin() as conn:
                await conn.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        return Principal(
            tenant_id=row.tenant_id,
            role=Role(row.role),
            user_id=row.user_id,
            api_key_id=row.id,
            via="api_key",
        )
