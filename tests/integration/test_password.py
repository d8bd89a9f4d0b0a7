"""A signed-in user changes their own password; their other sessions end."""

from __future__ import annotations

from tests.integration.conftest import LiveServer

from postroom.auth.roles import Role


async def test_a_user_changes_their_password(live: LiveServer) -> None:
    auth = live.postroom.auth
    await auth.create_user(live.postroom.default_tenant_id, "pat@example.test", "first-password", Role.VIEWER)
    async with live.client() as anonymous:
        tokens = (
            await anonymous.post("/api/v1/auth/login", json={"email": "pat@example.test", "password": "first-password"})
        ).json()
    async with live.client(tokens["access_token"]) as client:
        wrong = await client.post("/api/v1/auth/password", json={"current_password": "nope", "new_password": "x" * 12})
        assert wrong.status_code == 400 and "current password" in wrong.json()["detail"]
        short = await client.post(
            "/api/v1/auth/password", json={"current_password": "first-password", "new_password": "x"}
        )
        assert short.status_code == 400
        changed = await client.post(
            "/api/v1/auth/password", json={"current_password": "first-password", "new_password": "second-password"}
        )
        assert changed.status_code == 200 and changed.json()["access_token"]
    async with live.client() as anonymous:
        stale = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert stale.status_code == 401  # the session from before the change has ended
        old = await anonymous.post(
            "/api/v1/auth/login", json={"email": "pat@example.test", "password": "first-password"}
        )
        assert old.status_code == 401
        new = await anonymous.post(
            "/api/v1/auth/login", json={"email": "pat@example.test", "password": "second-password"}
        )
        assert new.status_code == 200


async def test_an_api_key_has_no_password_to_change(live: LiveServer) -> None:
    async with live.client(await live.api_key(Role.ADMIN)) as client:
        answer = await client.post("/api/v1/auth/password", json={"current_password": "a", "new_password": "b" * 12})
        assert answer.status_code == 400
