"""What the widget's browser tests share: Debian's Chromium, the demo page's hooks and a tab driving it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = ROOT / "test-results" / "widget"
DOCS = ROOT / "docs"

STEP_MS = 5_000  # any single UI step
ANSWER_MS = 12_000  # one round trip to /api/ask (the widget itself gives up after 15 s)
DESKTOP = (1280, 800)
MOBILE = (360, 740)
STORAGE_KEY = "dgm-assistant"  # the widget's sessionStorage entry: {session_id, open, messages}

REPLIES = '[data-testid="msg-answer"], [data-testid="msg-abstain"]'
CYBER = "Which directorate handles cyber issues?"

# The focused element, looked up through shadow roots.
DEEP_ACTIVE_TESTID = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el ? el.getAttribute('data-testid') : null;
}"""
SHADOW_IMG_COUNT = """() => {
  const root = document.querySelector('dgm-assistant-widget').shadowRoot;
  return root.querySelectorAll('img').length;
}"""
# Every visible text in the shadow root, with its colour and the first opaque background behind it.
TEXT_COLOURS = r"""() => {
  const root = document.querySelector('dgm-assistant-widget').shadowRoot;
  const out = [];
  for (const el of root.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width <= 1 || box.height <= 1 || !el.checkVisibility()) continue;
    let bg = el;
    while (bg && getComputedStyle(bg).backgroundColor.match(/rgba\(.*, 0\)$|transparent/)) {
      bg = bg.parentElement || (bg.getRootNode().host ?? null);
    }
    out.push({
      text: el.textContent.trim().slice(0, 40), color: getComputedStyle(el).color,
      background: bg ? getComputedStyle(bg).backgroundColor : 'rgb(255, 255, 255)',
    });
  }
  return out;
}"""
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class Tab:
    """One browser tab on the demo page, with what it reported."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def open_demo(self) -> None:
        self.page.goto(self.url + "/")
        expect(self.page.get_by_test_id("launcher")).to_be_visible()

    def open_widget(self) -> None:
        self.open_demo()
        self.page.get_by_test_id("launcher").click()
        expect(self.page.get_by_test_id("panel")).to_be_visible()

    def ask(self, question: str) -> Any:
        """Types a question, sends it with the send button and returns the locator of the new reply."""
        replies = self.page.locator(REPLIES)
        before = replies.count()
        self.page.get_by_test_id("input").fill(question)
        self.page.get_by_test_id("send").click()
        expect(replies).to_have_count(before + 1, timeout=ANSWER_MS)
        expect(self.page.get_by_test_id("typing")).to_have_count(0)
        return replies.last

    def stored(self) -> dict[str, Any] | None:
        return self.page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{STORAGE_KEY}'))")


def plain_words(text: str) -> str:
    """A text's words with list dashes and bullets and the line breaks between items gone, to compare a passage with
    what the widget shows of it (its lists drawn as lists)."""
    return " ".join(re.sub(r"(?m)^\s*[-\u2022]\s+", "", text).split())
