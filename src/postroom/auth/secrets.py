"""Password hashing (Argon2), API key generation and hashing, JWT access and refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from postroom.store.types import utcnow

API_KEY_PREFIX = "pr_"
JWT_ALGORITHM = "HS256"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(API_KEY_PREFIX) and len(value) > 20


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    tenant_id: int
    role: str
    kind: str  # "access" | "refresh"
    jti: str
    expires_at: datetime


def issue_token(
    secret: str, *, user_id: int, tenant_id: int, role: str, kind: str, lifetime: timedelta
) -> tuple[str, TokenClaims]:
    now = utcnow()
    claims = TokenClaims(user_id, tenant_id, role, kind, uuid.uuid4().hex, now + lifetime)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "tid": tenant_id,
        "role": role,
        "typ": kind,
        "jti": claims.jti,
        "iat": now,
        "exp": claims.expires_at,
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), claims


def read_token(secret: str, token: str, kind: str) -> TokenClaims:
    try:
        payload = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    if payload.get("typ") != kind:
        raise TokenError(f"expected a {kind} token")
    return TokenClaims(
        user_id=int(payload["sub"]),
        tenant_id=int(payload["tid"]),
        role=str(payload["role"]),
        kind=kind,
        jti=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(int(payload["exp"])).astimezone(),
    )
