"""Takes the screenshots in docs/screenshots against a running Postroom.

    postroom serve --data /tmp/demo &
    python -m tests.e2e.screenshots --url http://127.0.0.1:8025 --smtp-port 1025

It empties the inbox, sends realistic mail over SMTP, tags some of it and photographs
the inbox, a message and a search in the light and the dark theme, and the phone layout.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from tests.e2e import samples

CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def seed(url: str, smtp_port: int) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        client.delete("/api/v1/messages").raise_for_status()
        people = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret"]
        mails = [samples.welcome(name) for name in people]
        mails += [samples.weekly_digest(), samples.password_reset(), samples.invoice(), samples.password_reset()]
        mails.append(samples.welcome("Dana"))
        for mail in mails:
            samples.send(smtp_port, mail)
        items = client.get("/api/v1/messages", params={"limit": 50}).json()["items"]
        signups = [m["id"] for m in items if m["subject"].startswith("Welcome")]
        billing = [m["id"] for m in items if "invoice" in m["subject"]]
        client.patch("/api/v1/messages", json={"ids": signups, "add_tags": ["signup"]}).raise_for_status()
        client.patch("/api/v1/messages", json={"ids": billing, "add_tags": ["billing"]}).raise_for_status()
        client.patch("/api/v1/messages", json={"ids": signups[3:], "is_read": True}).raise_for_status()


async def shoot(page: Page, name: str, *, settle_ms: int = 400) -> None:
    await page.wait_for_timeout(settle_ms)  # let transitions end
    await page.screenshot(path=str(OUT / f"{name}.png"))


async def take(url: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        for scheme in ("light", "dark"):
            context = await browser.new_context(
                viewport={"width": 1366, "height": 820}, color_scheme=scheme, device_scale_factor=1
            )
            page = await context.new_page()
            await page.goto(url)
            await page.get_by_test_id("message-row").first.wait_for()
            await shoot(page, f"inbox-{scheme}")
            await page.get_by_role("option", name=re.compile("Your invoice")).click()
            await page.frame_locator('[data-testid="html-frame"]').get_by_text("Invoice INV-2026-0042").wait_for()
            await shoot(page, f"message-{scheme}")
            await page.goto(f"{url}/?q=tag%3Asignup%20is%3Aunread")
            await page.get_by_test_id("message-row").first.wait_for()
            search = page.get_by_role("combobox", name="Search messages")
            await search.click()
            await search.press("End")
            await search.press_sequentially(" ha")
            await page.get_by_role("listbox", name="Search operators").wait_for()
            # Before the search runs for the half-typed word.
            await shoot(page, f"search-{scheme}", settle_ms=0)
            await context.close()
        phone = await browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True)
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_test_id("message-row").first.wait_for()
        await shoot(page, "phone-inbox")
        await page.get_by_role("option", name=re.compile("Welcome to Acme, Dana")).click()
        await page.frame_locator('[data-testid="html-frame"]').get_by_text("Welcome aboard").wait_for()
        await shoot(page, "phone-message")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8025")
    parser.add_argument("--smtp-port", type=int, default=1025)
    args = parser.parse_args()
    seed(args.url, args.smtp_port)
    asyncio.run(take(args.url.rstrip("/")))


if __name__ == "__main__":
    main()
