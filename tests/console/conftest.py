"""Fixtures for the SOC console tests: the whole chain (the e2e fixture, reused), extra realistic
alerts seeded into its store so the views have something to show, and one headless Chromium per
session.

Chromium is Debian's (/usr/bin/chromium, driven by Playwright for Python through
``executable_path``); Playwright's own browser download is never used. Without it the browser
tests skip, naming the package to install.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.seed_alerts import seed
from tests.e2e.conftest import Chain, chain  # noqa: F401  (the fixture, reused as is)

CHROMIUM = os.environ.get("SECCHAIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


# Module scope, not session: Playwright's sync API keeps an asyncio loop running on this thread
# while it is open, and every pytest-asyncio test collected after it would then fail with
# "Runner.run() cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def seeded_chain(chain: Chain) -> Chain:  # noqa: F811
    """The chain, with 3,000 generated alerts of the last day for tenants acme and beta (and
    gamma, which the chain does not know: nobody may see those but the provider)."""
    store_url = chain.sup.store_url
    assert store_url.startswith("sqlite:///")
    seed(Path(store_url[len("sqlite://"):]), 3000, days=1.0, seed_value=8)
    return chain


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Chromium logs every 4xx answer to fetch as "Failed to load resource"; the tests check those
    # answers themselves. Anything else logged as an error is a bug in the console.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert errors == [], f"the console logged errors: {errors}"
