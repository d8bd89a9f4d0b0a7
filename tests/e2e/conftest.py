"""Browser tests: a real Postroom (HTTP + SMTP on loopback) and Debian's headless Chromium."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.integration.conftest import LiveFactory, LiveServer, live_factory

__all__ = ["live_factory"]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
BUILD = REPO / "src" / "postroom" / "web_dist" / "index.html"


@pytest.fixture(scope="session", autouse=True)
def web_build() -> Path:
    """The UI as users get it: built by the same script `serve.sh` runs (a no-op when current)."""
    # Parallel test workers take turns, so only one of them builds.
    with (REPO / "web" / ".build-lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([str(REPO / "scripts" / "web.sh")], check=True)
    assert BUILD.is_file(), "scripts/web.sh did not produce the build"
    return BUILD


@pytest.fixture
async def db_url(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[str]:
    """The UI does not depend on the engine (the API tests cover both): SQLite only here."""
    path = tmp_path / "postroom.db"
    shutil.copyfile(sqlite_template, path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def browser(live_factory: LiveFactory) -> AsyncIterator[Browser]:
    """Closed before the servers stop: an open event stream would hold their shutdown."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def open_server(live_factory: LiveFactory) -> LiveServer:
    """As a laptop runs it: no login, SMTP capture on."""
    return await live_factory(auth_required=False, smtp=True)


async def new_page(browser: Browser, url: str, *, color_scheme: Literal["light", "dark"] = "light") -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=color_scheme)
    page = await context.new_page()
    await page.goto(url)
    return page


def smtp_port(server: LiveServer) -> int:
    assert server.postroom.capture is not None
    return int(server.postroom.capture.port)
