"""Roles, ordered from least to most power, and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2, Role.SUPER_ADMIN: 3}


class Permission(StrEnum):
    MESSAGES_READ = "messages:read"
    MESSAGES_WRITE = "messages:write"  # tag, mark read, delete, put into the inbox, release
    KEYS_OWN = "keys:own"  # create and revoke one's own API keys
    USERS_MANAGE = "users:manage"  # users and every API key of the tenant
    JOBS_MANAGE = "jobs:manage"
    EMAILS_READ = "emails:read"  # status and timelines of sent mail, templates, suppressions
    EMAILS_SEND = "emails:send"  # send, cancel, edit templates and suppressions
    SENDING_MANAGE = "sending:manage"  # transports, credentials, DKIM keys, dead-letter requeue
    TENANTS_MANAGE = "tenants:manage"
    SERVER_MANAGE = "server:manage"  # chaos mode and other process-wide settings


MINIMUM_ROLE: dict[Permission, Role] = {
    Permission.MESSAGES_READ: Role.VIEWER,
    Permission.MESSAGES_WRITE: Role.DEVELOPER,
    Permission.KEYS_OWN: Role.DEVELOPER,
    Permission.USERS_MANAGE: Role.ADMIN,
    Permission.JOBS_MANAGE: Role.ADMIN,
    Permission.EMAILS_READ: Role.VIEWER,
    Permission.EMAILS_SEND: Role.DEVELOPER,
    Permission.SENDING_MANAGE: Role.ADMIN,
    Permission.TENANTS_MANAGE: Role.SUPER_ADMIN,
    Permission.SERVER_MANAGE: Role.SUPER_ADMIN,
}


def allows(role: Role, permission: Permission) -> bool:
    return role.at_least(MINIMUM_ROLE[permission])


def permissions_of(role: Role) -> list[str]:
    return [p.value for p in Permission if allows(role, p)]
