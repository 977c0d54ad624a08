"""Headless Chromium (Debian's, never a downloaded one) driving the page of a live server."""

import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer
from tests.requires import service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """Return a headless Chromium, or skip (fail under CI=true) without one."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    service(sync_playwright is not None, "the playwright package is not installed")
    service(CHROMIUM.is_file(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect

    # Waiting for a channel includes Socket.IO's retries before a fallback: be generous.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Return a ``python app.py`` with the default settings, shared by a module's tests."""
    with LiveServer(tmp_path_factory.mktemp("browser")) as live:
        yield live


class Tab:
    """A browser page, with every console error or warning and page error it produced."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.problems: list[str] = []
        self.expected_failures: list[re.Pattern] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))

    def _console(self, message):
        if message.type not in ("error", "warning"):
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and any(
                pattern.search(url) for pattern in self.expected_failures):
            return  # a request the test itself blocked
        self.problems.append(f"console {message.type}: {message.text} ({url})")

    def expect_blocked(self, pattern: str) -> None:
        """Accept the browser's report of failed requests to URLs matching ``pattern``."""
        self.expected_failures.append(re.compile(pattern))

    def open(self, payment: dict) -> None:
        """Open the payment's page."""
        self.page.goto(self.server.url + payment["page_url"])

    def screenshot(self, name: str) -> None:
        """Save a full-page screenshot as ``test-artifacts/screenshots/<name>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(browser, server):
    """Return a fresh page (own context, clipboard allowed); it must log no error or warning."""
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"],
                                  locale="pt-BR")
    context.set_default_timeout(15_000)
    tab = Tab(context.new_page(), server)
    yield tab
    context.close()
    assert tab.problems == [], "the page logged errors or warnings"


def post(url: str, body: dict) -> dict:
    """POST ``body`` as JSON and return the decoded answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def create(server):
    """Return a helper that creates a charge on the live server."""
    return lambda value=150.5: post(server.url + "/payments/pix", {"value": value})["payment"]


@pytest.fixture
def confirm(server):
    """Return a helper that plays the bank confirming a charge."""
    return lambda payment: post(server.url + "/payments/pix/confirmation",
                                {"bank_payment_id": payment["bank_payment_id"],
                                 "value": payment["value"]})

