"""Sign-in, sign-out and roles in the browser, with authentication required."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page, expect

from postroom.auth.roles import Role
from tests.e2e import samples
from tests.e2e.conftest import new_page, smtp_port
from tests.integration.conftest import LiveFactory, LiveServer

PASSWORD = "correct horse battery"


@pytest.fixture
async def guarded(live_factory: LiveFactory) -> LiveServer:
    server = await live_factory(auth_required=True, smtp=True)
    auth, tenant = server.postroom.auth, server.postroom.default_tenant_id
    for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN):
        await auth.create_user(tenant, f"{role.value}@example.com", PASSWORD, role)
    return server


async def sign_in(browser: Browser, server: LiveServer, email: str) -> Page:
    page = await new_page(browser, server.base_url)
    await expect(page.get_by_role("heading", name="Sign in to Postroom")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("combobox", name="Search messages")).to_be_visible()
    return page


async def test_login_shows_the_inbox_and_logout_returns_to_the_login_page(
    browser: Browser, guarded: LiveServer
) -> None:
    await asyncio.to_thread(samples.send, smtp_port(guarded), samples.invoice())
    page = await new_page(browser, guarded.base_url)
    await page.get_by_label("Email").fill("developer@example.com")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()

    page = await sign_in(browser, guarded, "developer@example.com")
    await page.get_by_role("option", name=re.compile("Your invoice")).click()
    # The sandboxed frame loads with the session's token too.
    frame = page.frame_locator('[data-testid="html-frame"]')
    await expect(frame.get_by_role("heading", name="Invoice INV-2026-0042")).to_be_visible()
    # Live push works signed in.
    await asyncio.to_thread(samples.send, smtp_port(guarded), samples.welcome("Ada"))
    await expect(page.get_by_role("option", name=re.compile("Welcome to Acme, Ada!"))).to_be_visible(timeout=2000)

    await page.get_by_role("button", name="Account menu").click()
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page.get_by_role("heading", name="Sign in to Postroom")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in to Postroom")).to_be_visible()


async def test_a_viewer_reads_but_is_offered_no_way_to_delete(browser: Browser, guarded: LiveServer) -> None:
    await asyncio.to_thread(samples.send, smtp_port(guarded), samples.invoice())
    page = await sign_in(browser, guarded, "viewer@example.com")
    row = page.get_by_role("option", name=re.compile("Your invoice"))
    await row.click()
    await expect(page.get_by_role("heading", name="Your invoice INV-2026-0042")).to_be_visible()

    await expect(page.get_by_role("button", name="Delete message")).to_have_count(0)
    await expect(page.get_by_role("button", name="Release")).to_have_count(0)
    await expect(page.get_by_role("button", name="More actions")).to_have_count(0)
    await expect(page.get_by_role("checkbox")).to_have_count(0)
    await page.keyboard.press("Delete")
    await page.reload()
    await expect(page.get_by_role("option", name=re.compile("Your invoice"))).to_be_visible()

    await page.get_by_role("button", name="Account menu").click()
    await expect(page.get_by_role("menuitem", name="Profile")).to_be_visible()
    await expect(page.get_by_role("menuitem", name="API keys")).to_have_count(0)
    await expect(page.get_by_role("menuitem", name="Users")).to_have_count(0)


async def test_a_developer_creates_an_api_key_shown_once_and_revokes_it(browser: Browser, guarded: LiveServer) -> None:
    page = await sign_in(browser, guarded, "developer@example.com")
    await page.get_by_role("button", name="Account menu").click()
    await page.get_by_role("menuitem", name="API keys").click()
    await expect(page.get_by_text("No API keys yet.")).to_be_visible()
    await page.get_by_label("Name").fill("ci")
    await page.get_by_role("button", name="Create key").click()

    key = await page.get_by_role("textbox", name="New API key").input_value()
    async with guarded.client(key) as client:
        assert (await client.get("/api/v1/messages")).status_code == 200
    await page.get_by_role("button", name="Done").click()
    await expect(page.get_by_role("textbox", name="New API key")).to_have_count(0)
    await expect(page.get_by_role("table", name="API keys")).not_to_contain_text(key)

    await page.get_by_role("button", name="Revoke ci").click()
    await page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("table", name="API keys")).to_contain_text("revoked")
    async with guarded.client(key) as client:
        assert (await client.get("/api/v1/messages")).status_code == 401


async def test_an_admin_adds_a_user_and_changes_their_role(browser: Browser, guarded: LiveServer) -> None:
    page = await sign_in(browser, guarded, "admin@example.com")
    await page.get_by_role("button", name="Account menu").click()
    await page.get_by_role("menuitem", name="Users").click()
    form = page.get_by_role("form", name="New user")
    await form.get_by_label("Email").fill("newcomer@example.com")
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Add user").click()
    await expect(page.get_by_role("cell", name="newcomer@example.com", exact=True)).to_be_visible()

    await page.get_by_role("combobox", name="Role of newcomer@example.com").click()
    await page.get_by_role("option", name="developer").click()
    await expect(page.get_by_role("combobox", name="Role of newcomer@example.com")).to_have_text("developer")
    users = await guarded.postroom.auth.list_users(guarded.postroom.default_tenant_id)
    assert {u["email"]: u["role"] for u in users}["newcomer@example.com"] == "developer"
    # Roles above the admin's own are not offered.
    await page.get_by_role("combobox", name="Role of newcomer@example.com").click()
    await expect(page.get_by_role("option", name="super admin")).to_be_disabled()


async def test_a_user_changes_their_password_on_the_profile_page(browser: Browser, guarded: LiveServer) -> None:
    page = await sign_in(browser, guarded, "viewer@example.com")
    await page.goto(guarded.base_url + "/profile")
    form = page.get_by_role("form", name="Change password")
    await form.get_by_label("Current password").fill(PASSWORD)
    await form.get_by_label("New password").first.fill("a brand new passphrase")
    await form.get_by_label("New password again").fill("a brand new passphrase")
    await form.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed")).to_be_visible()
    # This session carries on with fresh tokens; the old password no longer signs in.
    await page.goto(guarded.base_url + "/")
    await expect(page.get_by_role("combobox", name="Search messages")).to_be_visible()
    with pytest.raises(Exception, match="wrong email or password"):
        await guarded.postroom.auth.login("viewer@example.com", PASSWORD)
    assert await guarded.postroom.auth.login("viewer@example.com", "a brand new passphrase")
