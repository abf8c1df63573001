"""Fixtures shared by the assistant's browser tests (the widget's and the admin page's)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.assistant.static.browser import CHROMIUM, CHROMIUM_ARGS


# Per module, not per session: while Playwright's sync API is open it keeps an event loop running in the main
# thread, so an asyncio.run() in any later test (the bench's HTTP section, say) would fail.
@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
