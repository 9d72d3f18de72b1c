"""Browser fixtures: Debian's Chromium driven by Playwright, never a downloaded browser.

Without /usr/bin/chromium the browser tests skip locally; with CI=true they fail instead.

The server runs in the default async mode (gevent), the one users get. The tests assert a clean
console, which also guards app.py's closing of WebSockets the server ends (kick-offline, sign-out,
token expiry): without it gevent answered the browser's closing frame with an HTTP 400, reported
as "Invalid frame header".
"""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_ENV = {"IM_ASYNC_MODE": "gevent"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _require_browser():
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# The bound of every wait: Playwright's actions take the page's default timeout, its `expect`
# assertions one of their own (5 s unless set), too short on a loaded 2-core machine for what another
# page hears through the server (a logout's kicked_offline reached the other tab after 5 s).
WAIT_MS = 10_000


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


class Pages:
    """Browser contexts (one per simulated device) whose pages record console errors and dialogs."""

    def __init__(self, browser, base_url):
        self.browser, self.base_url = browser, base_url
        self.contexts, self.errors, self.dialogs = [], [], []

    def context(self, **options):
        options.setdefault("base_url", self.base_url)
        options.setdefault("locale", "en-US")
        ctx = self.browser.new_context(**options)
        self.contexts.append(ctx)
        return ctx

    def page(self, ctx=None, **options):
        ctx = ctx or self.context(**options)
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"{m.text} @ {m.location}"))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", self._dialog)
        page.goto("/")
        return page

    def _dialog(self, dialog):
        self.dialogs.append((dialog.type, dialog.message))
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    def close(self):
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def pages(browser, shared_server):
    # The tests of a module sign up users of their own, in browser contexts of their own: they share
    # the module's server rather than each paying a process start.
    server = shared_server(SERVER_ENV)
    pages = Pages(browser, server.url)
    pages.server = server
    yield pages
    pages.close()


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return take
