"""The Sending pages in the browser: live activity, batches, suppressions, templates and roles."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from postroom.auth.roles import Role
from tests.e2e.conftest import new_page
from tests.e2e.test_access import PASSWORD, sign_in
from tests.integration.conftest import LiveFactory, LiveServer


async def open_activity(browser: Browser, server: LiveServer) -> Page:
    page = await new_page(browser, f"{server.base_url}/sending")
    await expect(page.get_by_role("heading", name="Activity")).to_be_visible()
    # Changes made from here on must arrive over the live stream.
    await expect(page.get_by_label("Live updates: live")).to_be_visible()
    return page


async def test_an_email_sent_from_the_dialog_reaches_delivered_without_a_reload(
    browser: Browser, open_server: LiveServer
) -> None:
    page = await open_activity(browser, open_server)
    await expect(page.get_by_text("Nothing sent yet.")).to_be_visible()
    await page.get_by_role("button", name="Send test email").click()
    dialog = page.get_by_role("dialog", name="Send test email")
    await dialog.get_by_role("textbox", name=re.compile(r"^To\b")).fill("ada@example.com")
    await dialog.get_by_label("Subject").fill("Your receipt 1042")
    await dialog.get_by_label("Text body").fill("Thanks for your order.")
    await dialog.get_by_role("button", name="Send").click()
    await expect(dialog).to_be_hidden()

    row = page.get_by_role("link", name=re.compile("Your receipt 1042 to ada@example.com"))
    await expect(row.get_by_label("1 delivered")).to_be_visible()
    await row.click()
    recipient = page.get_by_label("Recipient ada@example.com")
    await expect(recipient.get_by_label("Status: delivered")).to_be_visible()
    timeline = recipient.get_by_role("list", name="Event timeline")
    await expect(timeline.get_by_text("delivered", exact=True)).to_be_visible()
    await expect(timeline.get_by_text("queued", exact=True)).to_be_visible()
    # Nothing pending any more: nothing to cancel.
    await expect(page.get_by_role("button", name="Cancel sending")).to_have_count(0)

    # The default transport delivered it into Postroom's own inbox.
    await page.get_by_role("link", name="Postroom").click()
    await expect(page.get_by_role("option", name=re.compile("Your receipt 1042"))).to_be_visible()


async def test_a_batch_progress_bar_fills_as_its_deliveries_finish(browser: Browser, open_server: LiveServer) -> None:
    async with open_server.client() as client:
        answer = await client.post("/api/v1/suppressions", json={"address": "gone@example.com"})
        assert answer.status_code == 201
    page = await open_activity(browser, open_server)
    async with open_server.client() as client:
        answer = await client.post(
            "/api/v1/batches",
            json={
                "from": "news@example.com",
                "subject": "Hello {{ name }}",
                "text": "Our news, {{ name }}.",
                "recipients": [
                    {"to": "ada@example.com", "variables": {"name": "Ada"}},
                    {"to": "grace@example.com", "variables": {"name": "Grace"}},
                    {"to": "gone@example.com", "variables": {"name": "Gone"}},
                ],
            },
        )
        assert answer.status_code == 202, answer.text
        batch_id = answer.json()["id"]

    bar = page.get_by_role("progressbar", name=f"Progress of batch {batch_id}")
    await expect(bar).to_have_attribute("aria-valuenow", "100")
    row = page.get_by_test_id("email-row").filter(has=bar)
    await expect(row.get_by_test_id("progress-summary")).to_contain_text("2 delivered")
    await expect(row.get_by_test_id("progress-summary")).to_contain_text("1 suppressed or cancelled")
    await expect(row.get_by_text("3 recipients")).to_be_visible()


async def test_an_address_is_suppressed_and_allowed_again(browser: Browser, open_server: LiveServer) -> None:
    page = await new_page(browser, f"{open_server.base_url}/sending/suppressions")
    await expect(page.get_by_text("No suppressed addresses.")).to_be_visible()
    form = page.get_by_role("form", name="Add suppression")
    await form.get_by_label("Address to suppress").fill("Bounce@Example.com")
    await form.get_by_label("Note").fill("asked by phone")
    await form.get_by_role("button", name="Suppress").click()
    table = page.get_by_role("table", name="Suppressed addresses")
    await expect(table.get_by_role("row", name=re.compile("bounce@example.com.*asked by phone"))).to_be_visible()

    async with open_server.client() as client:
        assert (await client.get("/api/v1/suppressions/bounce@example.com")).status_code == 200
    await page.get_by_role("button", name="Remove bounce@example.com").click()
    await page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    await expect(page.get_by_text("No suppressed addresses.")).to_be_visible()
    await page.reload()
    await expect(page.get_by_text("No suppressed addresses.")).to_be_visible()
    async with open_server.client() as client:
        assert (await client.get("/api/v1/suppressions/bounce@example.com")).status_code == 404


async def test_a_template_is_created_edited_into_version_2_and_previewed(
    browser: Browser, open_server: LiveServer
) -> None:
    page = await new_page(browser, f"{open_server.base_url}/sending/templates")
    await expect(page.get_by_text("No templates yet.")).to_be_visible()
    await page.get_by_role("button", name="New template").click()
    await page.get_by_label("Name").fill("Welcome")
    await page.get_by_role("button", name="Create template").click()
    await expect(page.get_by_text("Saved as version 1")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/sending/templates/\d+$"))

    frame = page.frame_locator('[data-testid="preview-frame"]')
    await expect(frame.get_by_role("heading", name="Hello Ada")).to_be_visible()
    await expect(page.get_by_test_id("preview-subject")).to_have_text("Subject: Welcome, Ada")

    await page.get_by_label("HTML").fill("<h1>Hi {{ name }} from {{ company }}</h1>\n<p>{{ plan }} plan</p>")
    await page.get_by_role("button", name="Save new version").click()
    await expect(page.get_by_text("Saved as version 2")).to_be_visible()
    await expect(page.get_by_label("Version")).to_contain_text("v2")
    await expect(frame.get_by_role("heading", name="Hi Ada from Acme")).to_be_visible()
    await expect(page.get_by_test_id("missing-variables")).to_contain_text("plan")

    await page.get_by_label("Sample variables (JSON)").fill('{"name": "Grace", "company": "Initech", "plan": "Pro"}')
    await expect(frame.get_by_role("heading", name="Hi Grace from Initech")).to_be_visible()
    await expect(frame.get_by_text("Pro plan")).to_be_visible()
    await expect(page.get_by_test_id("missing-variables")).to_have_count(0)

    # The history keeps version 1, readable as it was.
    await page.get_by_label("Version").click()
    await page.get_by_role("option", name=re.compile(r"^v1 ")).click()
    await expect(page.get_by_label("HTML")).to_have_value(re.compile("Hello {{ name }}"))
    await expect(frame.get_by_role("heading", name="Hello Grace")).to_be_visible()

    await page.get_by_label("HTML").fill("<p>{% if name %}unclosed</p>")
    await page.get_by_role("button", name="Save new version").click()
    await expect(page.get_by_test_id("save-error")).to_contain_text("html")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def sending_roles(live_factory: LiveFactory) -> LiveServer:
    # Private addresses allowed: a tenant transport here points at a closed port on loopback.
    server = await live_factory(auth_required=True, email_worker_max_retries=0, webhook_allow_private=True)
    auth, tenant = server.postroom.auth, server.postroom.default_tenant_id
    for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN):
        await auth.create_user(tenant, f"{role.value}@example.com", PASSWORD, role)
    return server


async def test_a_viewer_sees_no_send_cancel_or_requeue_controls(browser: Browser, sending_roles: LiveServer) -> None:
    key = await sending_roles.api_key(Role.ADMIN)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    async with sending_roles.client(key) as client:
        # Mail from this domain goes to an SMTP port nobody listens on: it ends as a dead letter.
        options = {"host": "127.0.0.1", "port": str(closed_port()), "tls": "none"}
        transport = {"domain": "dead.example", "provider": "smtp", "options": options}
        assert (await client.put("/api/v1/sending/transports", json=transport)).status_code == 200
        body = {"from": "ops@dead.example", "to": "lost@example.com", "subject": "Lost", "text": "x"}
        assert (await client.post("/api/v1/emails", json=body)).status_code == 202
        body = {"from": "ops@example.com", "to": "later@example.com", "subject": "Later", "text": "x", "send_at": later}
        scheduled = (await client.post("/api/v1/emails", json=body)).json()["id"]
        for _ in range(100):
            if (await client.get("/api/v1/deliveries", params={"status": "failed"})).json()["items"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the delivery to a closed port never failed")

    page = await sign_in(browser, sending_roles, "viewer@example.com")
    await page.get_by_role("link", name="Sending").click()
    await expect(page.get_by_role("link", name=re.compile("Later to later@example.com"))).to_be_visible()
    await expect(page.get_by_role("button", name="Send test email")).to_have_count(0)
    await page.goto(f"{sending_roles.base_url}/sending/emails/{scheduled}")
    await expect(page.get_by_label("Recipient later@example.com").get_by_label("Status: queued")).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel sending")).to_have_count(0)
    await page.goto(f"{sending_roles.base_url}/sending/dead-letters")
    await expect(page.get_by_role("row", name=re.compile("lost@example.com"))).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Requeue"))).to_have_count(0)
    await expect(page.get_by_role("checkbox")).to_have_count(0)
    await page.goto(f"{sending_roles.base_url}/sending/suppressions")
    await expect(
        page.get_by_role("table", name="Suppressed addresses").or_(page.get_by_text("No suppressed"))
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Suppress")).to_have_count(0)
    await page.goto(f"{sending_roles.base_url}/sending/templates")
    await expect(page.get_by_role("heading", name="Templates")).to_be_visible()
    await expect(page.get_by_role("button", name="New template")).to_have_count(0)

    # A developer may cancel what is still queued, but not requeue dead letters.
    page = await sign_in(browser, sending_roles, "developer@example.com")
    await page.goto(f"{sending_roles.base_url}/sending/emails/{scheduled}")
    await page.get_by_role("button", name="Cancel sending").click()
    await page.get_by_role("dialog").get_by_role("button", name="Cancel sending").click()
    await expect(page.get_by_label("Recipient later@example.com").get_by_label("Status: cancelled")).to_be_visible()
    await expect(page.get_by_role("button", name="Cancel sending")).to_have_count(0)
    await page.goto(f"{sending_roles.base_url}/sending/dead-letters")
    await expect(page.get_by_role("row", name=re.compile("lost@example.com"))).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Requeue"))).to_have_count(0)

    # The admin requeues it.
    page = await sign_in(browser, sending_roles, "admin@example.com")
    await page.goto(f"{sending_roles.base_url}/sending/dead-letters")
    await page.get_by_role("checkbox", name="Select lost@example.com").check()
    await page.get_by_role("button", name="Requeue selected (1)").click()
    await expect(page.get_by_text("1 delivery(ies) back in the queue")).to_be_visible()


async def test_a_domain_shows_its_dkim_record_checks_dns_and_rotates_its_key(
    browser: Browser, open_server: LiveServer
) -> None:
    page = await new_page(browser, f"{open_server.base_url}/sending/domains")
    await expect(page.get_by_text("No sending domains.")).to_be_visible()
    await page.get_by_label("Sending domain").fill("Mail.Example.com")
    await page.get_by_role("button", name="Add domain").click()
    card = page.get_by_role("region", name="Domain mail.example.com")
    record = card.get_by_text(re.compile(r"^\w+\._domainkey\.mail\.example\.com$"))
    await expect(record).to_be_visible()
    first = await record.text_content()
    await expect(card.get_by_role("button", name="Copy the DKIM record value")).to_be_visible()

    await card.get_by_role("button", name="Check DNS").click()
    check = card.get_by_role("region", name="DNS check of mail.example.com")
    for kind in ("spf", "dkim", "dmarc"):
        await expect(check.get_by_label(re.compile(f"^{kind} (found|missing|invalid|error)$"))).to_be_visible()

    await card.get_by_role("button", name="Rotate DKIM key").click()
    await page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
    await expect(card.get_by_text(re.compile(r"^Older selectors still published"))).to_be_visible()
    assert await card.get_by_text(re.compile(r"^\w+\._domainkey\.mail\.example\.com$")).text_content() != first
