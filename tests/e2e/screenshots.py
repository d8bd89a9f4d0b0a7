"""Takes the screenshots in docs/screenshots against a running Postroom.

    postroom serve --data /tmp/demo &
    python -m tests.e2e.screenshots --url http://127.0.0.1:8025 --smtp-port 1025

It empties the inbox, sends realistic mail over SMTP, tags some of it and photographs
the inbox, a message and a search in the light and the dark theme, and the phone layout.

With `--sending` it also sends a few minutes of mail through the API (batches, single
emails, a suppressed address and a domain routed to a closed SMTP port on loopback, so some
mail fails; run the server with EMAIL_WORKER_MAX_RETRIES=0 for the failures to show at once and
POSTROOM_WEBHOOK_ALLOW_PRIVATE=true so a tenant may route mail to loopback) and
photographs the Activity page, the Overview chart and the template editor.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import time
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


WELCOME_HTML = """<div style="font-family:system-ui,sans-serif;max-width:520px">
  <h1 style="color:#1565c0">Welcome to {{ company }}, {{ name }}!</h1>
  <p>Your {{ plan }} plan is ready.</p>
  {% if trial_days %}<p>Your trial ends in {{ trial_days }} days.</p>{% endif %}
  <p><a href="https://example.com/start">Get started</a></p>
</div>
"""


def seed_sending(url: str, rounds: int = 8, pause: float = 25.0) -> int:
    """Sends mail over a few minutes so the per-minute chart has a shape; returns the template id."""
    people = ["ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances", "edsger", "radia"]
    with httpx.Client(base_url=url, timeout=30) as client:
        template = client.post(
            "/api/v1/templates",
            json={
                "name": "Welcome",
                "subject": "Welcome to {{ company }}, {{ name }}",
                "html": "<h1>Welcome, {{ name }}</h1>",
                "sample_variables": {"name": "Ada", "company": "Acme", "plan": "Pro"},
            },
        ).json()
        client.put(
            f"/api/v1/templates/{template['id']}",
            json={
                "name": "Welcome",
                "subject": "Welcome to {{ company }}, {{ name }}",
                "html": WELCOME_HTML,
                "sample_variables": {"name": "Ada", "company": "Acme", "plan": "Pro"},
            },
        ).raise_for_status()
        client.post("/api/v1/suppressions", json={"address": "margaret@example.com", "reason": "hard_bounce"})
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        client.put(
            "/api/v1/sending/transports",
            json={
                "domain": "legacy.example",
                "provider": "smtp",
                "options": {"host": "127.0.0.1", "port": str(closed)},
            },
        )
        for round_ in range(rounds):
            size = 4 + (round_ * 7) % 9
            recipients = [
                {"to": f"{people[(round_ + i) % len(people)]}{i}@example.com", "variables": {"name": people[i % 10]}}
                for i in range(size)
            ]
            recipients.append({"to": "margaret@example.com", "variables": {"name": "Margaret"}})
            client.post(
                "/api/v1/batches",
                json={
                    "from": "Acme News <news@example.com>",
                    "template_id": template["id"],
                    "variables": {"company": "Acme", "plan": "Pro", "trial_days": 14 - round_},
                    "recipients": recipients,
                    "tags": ["newsletter"],
                },
            ).raise_for_status()
            for person in people[round_ % 3 : round_ % 3 + 2]:
                client.post(
                    "/api/v1/emails",
                    json={
                        "from": "Acme <billing@example.com>",
                        "to": f"{person}@example.com",
                        "subject": f"Your receipt #{1040 + round_}",
                        "text": "Thanks for your order.",
                        "tags": ["receipt"],
                    },
                ).raise_for_status()
            if round_ % 2:
                client.post(
                    "/api/v1/emails",
                    json={
                        "from": "ops@legacy.example",
                        "to": "oncall@example.com",
                        "subject": "Nightly report",
                        "text": ".",
                    },
                ).raise_for_status()
            if round_ < rounds - 1:
                time.sleep(pause)
        return int(template["id"])


async def shoot(page: Page, name: str, *, settle_ms: int = 400) -> None:
    await page.wait_for_timeout(settle_ms)  # let transitions end
    await page.screenshot(path=str(OUT / f"{name}.png"))


async def take_sending(url: str, template_id: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        for scheme in ("light", "dark"):
            context = await browser.new_context(
                viewport={"width": 1366, "height": 820}, color_scheme=scheme, device_scale_factor=1
            )
            page = await context.new_page()
            await page.goto(f"{url}/sending")
            await page.get_by_test_id("email-row").first.wait_for()
            await shoot(page, f"sending-activity-{scheme}")
            await page.goto(f"{url}/sending/overview")
            await page.get_by_test_id("series-chart").wait_for()
            await page.get_by_role("button", name="Last 6 h").click()
            await page.wait_for_timeout(300)
            await page.get_by_role("button", name="Last 1 h").click()
            await shoot(page, f"sending-overview-{scheme}")
            await page.goto(f"{url}/sending/templates/{template_id}")
            await page.frame_locator('[data-testid="preview-frame"]').get_by_role("heading").wait_for()
            await shoot(page, f"sending-template-{scheme}")
            await context.close()
        phone = await browser.new_context(viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True)
        page = await phone.new_page()
        await page.goto(f"{url}/sending")
        await page.get_by_test_id("email-row").first.wait_for()
        await shoot(page, "phone-sending-activity")
        await browser.close()


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
    parser.add_argument("--sending", action="store_true", help="also the Sending pages (takes a few minutes)")
    parser.add_argument("--only-sending", action="store_true", help="only the Sending pages")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    if not args.only_sending:
        seed(url, args.smtp_port)
        asyncio.run(take(url))
    if args.sending or args.only_sending:
        template_id = seed_sending(url)
        asyncio.run(take_sending(url, template_id))


if __name__ == "__main__":
    main()
