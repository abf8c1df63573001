"""Fixtures of the widget's browser tests: one Chromium per module, tabs in fresh contexts on the live service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.assistant.static.browser import DESKTOP, STEP_MS, Tab


@pytest.fixture
def new_tab(chromium_browser: Browser, live_server: Any) -> Iterator[Callable[..., Tab]]:
    """Opens tabs in fresh contexts (own sessionStorage) that record console errors and dialogs; on the live
    service, or on the one at `url`."""
    contexts = []

    def make(viewport: tuple[int, int] = DESKTOP, url: str | None = None, bypass_csp: bool = False) -> Tab:
        # bypass_csp: the accessibility audit injects axe-core, an inline script the demo page's CSP forbids.
        context = chromium_browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                               bypass_csp=bypass_csp)
        context.set_default_timeout(STEP_MS)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page=page, url=(url or live_server.url).rstrip("/"))
        page.on("console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: tab.console_errors.append(f"page error: {exc}"))

        def on_dialog(dialog: Any) -> None:
            tab.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return tab

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def tab(new_tab: Callable[..., Tab]) -> Tab:
    return new_tab()
