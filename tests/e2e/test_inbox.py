"""The inbox in a browser: live arrival, search, deletion seen by a second reader."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

from playwright.async_api import Browser, expect

from postroom.store.query import parse_query
from tests.e2e import samples
from tests.e2e.conftest import new_page, smtp_port
from tests.integration.conftest import LiveServer

# Live push is the only way a message reaches an open page (the list does not poll).
# One second, with a margin for a slow CI machine.
LIVE_MS = 2000


async def send(server: LiveServer, *messages: EmailMessage) -> None:
    for message in messages:
        await asyncio.to_thread(samples.send, smtp_port(server), message)


async def test_mail_sent_over_smtp_appears_in_the_open_list_without_reload(
    browser: Browser, open_server: LiveServer
) -> None:
    page = await new_page(browser, open_server.base_url)
    await expect(page.get_by_text("No messages yet.")).to_be_visible()
    await expect(page.get_by_role("status", name="Live")).to_be_visible()

    await send(open_server, samples.welcome("Ada"))

    row = page.get_by_role("option", name=re.compile("Welcome to Acme, Ada!"))
    await expect(row).to_be_visible(timeout=LIVE_MS)
    await expect(row).to_have_attribute("data-unread", "true")
    await expect(page).to_have_title("(1) Postroom")

    await send(open_server, samples.password_reset())
    await expect(page.get_by_role("option", name=re.compile("Reset your password"))).to_be_visible(timeout=LIVE_MS)
    await expect(page).to_have_title("(2) Postroom")
    # Newest first.
    await expect(page.get_by_test_id("message-row").first).to_contain_text("Reset your password")


async def test_search_finds_the_message_suggests_operators_and_lives_in_the_url(
    browser: Browser, open_server: LiveServer
) -> None:
    await send(open_server, samples.welcome("Ada"), samples.invoice(), samples.password_reset())
    page = await new_page(browser, open_server.base_url)
    rows = page.get_by_test_id("message-row")
    await expect(rows).to_have_count(3)

    search = page.get_by_role("combobox", name="Search messages")
    await search.click()
    await search.press_sequentially("sub")
    suggestion = page.get_by_role("option", name=re.compile("^subject:"))
    await expect(suggestion).to_be_visible()
    await search.press("Enter")
    await expect(search).to_have_value("subject:")
    await search.press_sequentially("invoice")

    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Your invoice INV-2026-0042")
    await expect(page).to_have_url(re.compile(r"\?q=subject%3Ainvoice$"))

    # The URL is shareable: a fresh page opened on it shows the same search.
    shared = await new_page(browser, page.url)
    await expect(shared.get_by_role("combobox", name="Search messages")).to_have_value("subject:invoice")
    await expect(shared.get_by_test_id("message-row")).to_have_count(1)

    await search.fill("from:nobody@nowhere.test")
    await expect(page.get_by_text("Nothing matches")).to_be_visible()


async def test_deleting_a_message_removes_it_for_a_second_open_browser(
    browser: Browser, open_server: LiveServer
) -> None:
    await send(open_server, samples.welcome("Ada"), samples.invoice())
    first = await new_page(browser, open_server.base_url)
    second = await new_page(browser, open_server.base_url)
    invoice_row = re.compile("Your invoice INV-2026-0042")
    await expect(second.get_by_role("option", name=invoice_row)).to_be_visible()

    await first.get_by_role("option", name=invoice_row).click()
    await expect(first.get_by_role("heading", name="Your invoice INV-2026-0042")).to_be_visible()
    await first.get_by_role("button", name="Delete message").click()

    await expect(first.get_by_role("option", name=invoice_row)).to_have_count(0)
    await expect(second.get_by_role("option", name=invoice_row)).to_have_count(0, timeout=LIVE_MS)
    await expect(second.get_by_role("option", name=re.compile("Welcome to Acme, Ada!"))).to_be_visible()
    stored = await open_server.postroom.messages.list(
        open_server.postroom.default_tenant_id, parse_query("subject:invoice")
    )
    assert stored.items == []


async def test_bulk_read_tag_and_delete_all(browser: Browser, open_server: LiveServer) -> None:
    await send(open_server, samples.welcome("Ada"), samples.welcome("Bo"), samples.invoice())
    page = await new_page(browser, open_server.base_url)
    rows = page.get_by_test_id("message-row")
    await expect(rows).to_have_count(3)
    await expect(page).to_have_title("(3) Postroom")

    await page.get_by_role("checkbox", name="Select all listed messages").check()
    await page.get_by_role("button", name="Mark selected read").click()
    await expect(page).to_have_title("Postroom")
    await page.get_by_role("button", name="Tag selected").click()
    await page.get_by_label("Tags").fill("signup, qa")
    await page.get_by_role("button", name="Add tags").click()
    await expect(rows.first.get_by_text("signup")).to_be_visible()
    await expect(rows.first.get_by_text("qa")).to_be_visible()

    await page.get_by_role("button", name="More actions").click()
    await page.get_by_role("menuitem", name="Delete all messages…").click()
    await expect(page.get_by_role("dialog")).to_contain_text("This deletes all 3 messages")
    await page.get_by_role("button", name="Delete", exact=True).click()
    await expect(page.get_by_text("No messages yet.")).to_be_visible()


async def test_keyboard_moves_opens_and_deletes(browser: Browser, open_server: LiveServer) -> None:
    await send(open_server, samples.welcome("Ada"), samples.welcome("Bo"), samples.welcome("Cy"))
    page = await new_page(browser, open_server.base_url)
    await expect(page.get_by_test_id("message-row")).to_have_count(3)

    await page.keyboard.press("j")
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Welcome to Acme, Bo!")).to_be_visible()
    await page.keyboard.press("k")
    await expect(page.get_by_role("heading", name="Welcome to Acme, Cy!")).to_be_visible()
    await page.keyboard.press("Delete")
    await expect(page.get_by_role("option", name=re.compile("Cy!"))).to_have_count(0)
    await expect(page.get_by_role("heading", name="Welcome to Acme, Bo!")).to_be_visible()

    await page.keyboard.press("/")
    await expect(page.get_by_role("combobox", name="Search messages")).to_be_focused()


async def test_scrolling_to_the_end_loads_older_pages(browser: Browser, open_server: LiveServer) -> None:
    count = 130  # more than one page (100)
    async with open_server.client() as client:
        for n in range(1, count + 1):
            body = {"from": "app@example.com", "to": ["qa@example.com"], "subject": f"Message {n:03d}", "text": "hi"}
            (await client.post("/api/v1/messages", json=body)).raise_for_status()
    page = await new_page(browser, open_server.base_url)
    await expect(page.get_by_test_id("count-line")).to_contain_text(f"{count} messages")
    await expect(page.get_by_role("option", name=re.compile("Message 130"))).to_be_visible()
    # Only the rows in view are in the page.
    assert await page.get_by_test_id("message-row").count() < 40

    listbox = page.get_by_role("listbox", name="Messages")
    oldest = page.get_by_role("option", name=re.compile("Message 001"))
    for _ in range(20):  # each scroll may bring another page
        await listbox.evaluate("element => element.scrollTo(0, element.scrollHeight)")
        if await oldest.count():
            break
        await page.wait_for_timeout(100)
    await expect(oldest).to_be_visible()
