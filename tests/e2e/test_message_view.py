"""The message view: HTML as recipients see it, safely; text, source, headers, links, attachments."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Page, Request, Route, expect

from tests.e2e import samples
from tests.e2e.conftest import new_page, smtp_port
from tests.integration.conftest import LiveFactory, LiveServer
from tests.services import free_port


async def open_message(browser: Browser, server: LiveServer, subject: str) -> Page:
    page = await new_page(browser, server.base_url)
    await page.get_by_role("option", name=re.compile(re.escape(subject))).click()
    await expect(page.get_by_role("heading", name=subject)).to_be_visible()
    return page


async def test_html_text_source_headers_links_and_attachments(browser: Browser, open_server: LiveServer) -> None:
    await asyncio.to_thread(samples.send, smtp_port(open_server), samples.invoice())
    page = await open_message(browser, open_server, "Your invoice INV-2026-0042")

    frame = page.frame_locator('[data-testid="html-frame"]')
    await expect(frame.get_by_role("heading", name="Invoice INV-2026-0042")).to_be_visible()
    await expect(frame.get_by_text("$49.00")).to_be_visible()

    iframe = page.get_by_test_id("html-frame")
    await page.get_by_role("button", name="Phone width").click()
    await expect(iframe).to_have_css("width", "375px")
    await page.get_by_role("button", name="Tablet width").click()
    await expect(iframe).to_have_css("width", "768px")

    await page.get_by_role("tab", name="Text").click()
    await expect(page.get_by_test_id("text-body")).to_contain_text("Your invoice for November is attached")
    await page.get_by_role("tab", name="Source").click()
    await expect(page.get_by_test_id("raw-source")).to_contain_text("Subject: Your invoice INV-2026-0042")
    await page.get_by_role("tab", name="Headers").click()
    await expect(page.get_by_role("rowheader", name="Message-ID")).to_be_visible()
    await page.get_by_role("tab", name=re.compile("^Links")).click()
    await expect(page.get_by_role("link", name="https://acme.test/billing")).to_be_visible()
    await page.get_by_role("tab", name=re.compile("^Attachments")).click()
    await expect(page.get_by_text("INV-2026-0042.pdf")).to_be_visible()
    preview = page.get_by_role("img", name="Preview of logo.png")
    await expect(preview).to_be_visible()
    assert await preview.evaluate("img => img.naturalWidth") == 2

    async with page.expect_download() as download_info:
        await page.get_by_role("listitem").filter(has_text="INV-2026-0042.pdf").get_by_role("link").click()
    download = await download_info.value
    assert download.suggested_filename == "INV-2026-0042.pdf"


async def test_remote_images_wait_for_the_readers_consent(browser: Browser, open_server: LiveServer) -> None:
    await asyncio.to_thread(samples.send, smtp_port(open_server), samples.password_reset())
    page = await open_message(browser, open_server, "Reset your password")
    # Stands in for the remote host; it only sees requests the page's policy let through.
    loaded: list[str] = []

    async def tracker(route: Route) -> None:
        loaded.append(route.request.url)
        await route.fulfill(body=samples.PNG, content_type="image/png")

    await page.context.route("https://tracker.acme.test/**", tracker)
    await page.reload()
    frame = page.frame_locator('[data-testid="html-frame"]')
    await expect(frame.get_by_text("Use the button below")).to_be_visible()
    await expect(page.get_by_text("Remote images are blocked for this message.")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert loaded == []

    await page.get_by_role("button", name="Show images").click()
    await expect(page.get_by_test_id("html-frame")).to_have_attribute("src", re.compile("remote_images=true"))
    await expect(page.get_by_text("Remote images are blocked")).to_have_count(0)
    await expect(frame.locator("img")).to_have_js_property("naturalWidth", 2)
    assert loaded == ["https://tracker.acme.test/open.gif?u=42"]


async def test_hostile_html_runs_no_script_and_navigates_nowhere(browser: Browser, open_server: LiveServer) -> None:
    marker = f"{open_server.base_url}/marker"
    await asyncio.to_thread(samples.send, smtp_port(open_server), samples.hostile(marker))
    context = await browser.new_context()
    # Anything the message manages to run reports to the app's window.
    await context.add_init_script(
        "window.__reports = []; window.addEventListener('message', (e) => window.__reports.push(String(e.data)));"
    )
    page = await context.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await page.goto(open_server.base_url)
    await page.get_by_role("option", name=re.compile("Hostile HTML")).click()
    app_url = page.url

    frame = page.frame_locator('[data-testid="html-frame"]')
    await expect(frame.get_by_text("Nothing to see.")).to_be_visible()
    await frame.locator("#js-link").click()
    # Give a refresh, a handler or a clicked link every chance to act before looking.
    await page.wait_for_timeout(1500)

    assert await page.evaluate("window.__reports") == []
    assert [r.url for r in requests if "/marker" in r.url] == []
    assert page.url == app_url
    html_frame = next(f for f in page.frames if "/html" in f.url)
    assert re.search(r"/api/v1/messages/\d+/html", html_frame.url)
    assert not [url for url in navigations if "marker" in url or url.startswith("javascript:")]
    await expect(frame.get_by_text("Nothing to see.")).to_be_visible()
    # The links list names the javascript: link without making it clickable.
    await page.get_by_role("tab", name=re.compile("^Links")).click()
    await expect(page.get_by_text("unsafe, not opened")).to_be_visible()
    await context.close()


async def test_release_relays_the_message_to_the_configured_smtp_server(
    browser: Browser, live_factory: LiveFactory
) -> None:
    # The server releases to its own SMTP port, so the relayed copy lands in the same inbox.
    port = free_port()
    server = await live_factory(
        auth_required=False, smtp=True, smtp_port=port, release_host="127.0.0.1", release_port=port
    )
    await asyncio.to_thread(samples.send, port, samples.invoice())
    page = await open_message(browser, server, "Your invoice INV-2026-0042")
    await page.get_by_role("button", name="Release").click()
    dialog = page.get_by_role("dialog", name="Release this message")
    await expect(dialog.get_by_label("Recipients")).to_have_value("dana@example.com")
    await dialog.get_by_label("Recipients").fill("qa@example.com")
    await dialog.get_by_role("button", name="Release").click()
    await expect(dialog).to_contain_text("Queued for qa@example.com")
    await dialog.get_by_role("button", name="Close").click()
    await expect(page.get_by_role("option", name=re.compile("Your invoice"))).to_have_count(2, timeout=10_000)


async def test_release_without_a_configured_server_says_so(browser: Browser, open_server: LiveServer) -> None:
    await asyncio.to_thread(samples.send, smtp_port(open_server), samples.welcome("Ada"))
    page = await open_message(browser, open_server, "Welcome to Acme, Ada!")
    await page.get_by_role("button", name="Release").click()
    dialog = page.get_by_role("dialog", name="Release this message")
    await dialog.get_by_role("button", name="Release").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("no release server is configured")
