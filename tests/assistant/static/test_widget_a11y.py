"""The widget's accessibility, audited in a real Chromium: axe-core (npm, pinned in package-lock.json, installed
by `make test` with `npm ci`) on the demo page in every state, on desktop and mobile; keyboard-only use; the
answer announced to screen readers once.

axe-core checks WCAG 2.0/2.1 A and AA (contrast included) inside the widget's open Shadow DOM too. It is an
inline script, which the demo page's CSP forbids: these tabs bypass the CSP (the CSP has its own test).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.assistant.static.browser import (
    ANSWER_MS,
    CYBER,
    DEEP_ACTIVE_TESTID,
    DESKTOP,
    MOBILE,
    REPLIES,
    Tab,
)
from tests.helpers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(90, func_only=True)]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
REFUSED = "Do you issue passports for Belgians abroad?"  # consular help: not in the pages, declined

# Is the focused element (looked up through shadow roots) inside the widget's panel?
FOCUS_IN_PANEL = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  const panel = document.querySelector('dgm-assistant-widget').shadowRoot.querySelector('[data-testid=panel]');
  return !!el && panel.contains(el);
}"""
# Every value the live region's text takes from now on (a MutationObserver on it).
WATCH_LIVE = """() => {
  const live = document.querySelector('dgm-assistant-widget').shadowRoot.querySelector('[data-testid=live]');
  window.__live = [];
  new MutationObserver(() => window.__live.push(live.textContent))
    .observe(live, {childList: true, characterData: true, subtree: true});
}"""
# The elements of the widget that screen readers would announce on their own: live regions and alerts.
LIVE_ELEMENTS = """() => [...document.querySelector('dgm-assistant-widget').shadowRoot.querySelectorAll(
  '[aria-live], [role=alert], [role=status], [role=log]')].map((el) => el.getAttribute('data-testid') ||
  el.className)"""


def _violations(tab: Tab) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the whole page, one line each (rule, impact, where)."""
    if tab.page.evaluate("() => typeof window.axe") == "undefined":
        tab.page.add_script_tag(path=str(AXE))
    result = tab.page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_AA)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps([n['target'] for n in v['nodes']])}"
            for v in result["violations"]]


@pytest.fixture
def audited_tab(new_tab: Callable[..., Tab]) -> Callable[[tuple[int, int]], Tab]:
    if not AXE.is_file():
        reason = f"{AXE} is missing: run `npm ci` (make test does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return lambda viewport: new_tab(viewport, bypass_csp=True)


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
def test_axe_finds_no_wcag_21_aa_violation_in_any_state(audited_tab: Callable[..., Tab], name: str,
                                                        viewport: tuple[int, int]) -> None:
    tab = audited_tab(viewport)
    found: dict[str, list[str]] = {}

    tab.open_demo()
    found["closed"] = _violations(tab)

    tab.page.get_by_test_id("launcher").click()
    expect(tab.page.get_by_test_id("starter").first).to_be_visible()
    found["open"] = _violations(tab)

    answer = tab.ask(CYBER)
    expect(answer).to_have_attribute("data-testid", "msg-answer")
    tab.page.mouse.move(0, 0)
    found["answer"] = _violations(tab)

    answer.get_by_test_id("citation-marker").first.click()
    expect(answer.get_by_test_id("citation-panel")).to_be_visible()
    found["open citation"] = _violations(tab)

    refusal = tab.ask(REFUSED)
    expect(refusal).to_have_attribute("data-testid", "msg-abstain")
    tab.page.mouse.move(0, 0)
    found["refusal"] = _violations(tab)

    tab.page.get_by_test_id("input").fill("a" * 1001)  # over the limit: the counter turns red
    found["over-long question"] = _violations(tab)

    # The audit sees inside the widget's Shadow DOM: a pale counter there is reported.
    tab.page.evaluate("""() => {
      const root = document.querySelector('dgm-assistant-widget').shadowRoot;
      const style = document.createElement('style');
      style.textContent = '.counter { color: #c8c8c8 !important; }';
      root.appendChild(style);
    }""")
    assert any(v.startswith("color-contrast ") for v in _violations(tab))

    bad = {state: v for state, v in found.items() if v}
    assert not bad, "\n".join(f"{state}: {line}" for state, lines in bad.items() for line in lines)


def test_tab_stays_inside_the_open_panel_and_focus_returns_on_close(tab: Tab) -> None:
    tab.open_demo()
    tab.page.get_by_test_id("launcher").focus()
    tab.page.keyboard.press("Enter")
    expect(tab.page.get_by_test_id("panel")).to_be_visible()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "input"
    tab.page.keyboard.type(CYBER)
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator(REPLIES)).to_have_count(1, timeout=ANSWER_MS)

    # Forwards: every stop is inside the panel, and the order comes round to the input again.
    stops = []
    for _ in range(40):
        tab.page.keyboard.press("Tab")
        assert tab.page.evaluate(FOCUS_IN_PANEL), f"focus left the panel after {stops}"
        stops.append(tab.page.evaluate(DEEP_ACTIVE_TESTID))
        if stops[-1] == "input":
            break
    assert stops[-1] == "input" and len(stops) > 3, stops
    assert stops[0] == "send"  # after the input, its send button
    assert stops[1] == "new-conversation" and stops[2] == "close"  # then round to the panel's header
    assert "citation-marker" in stops and "thumb-up" in stops

    # Backwards from the first control: to the last (the send button), never out to the page.
    tab.page.get_by_test_id("new-conversation").focus()
    tab.page.keyboard.press("Shift+Tab")
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "send"

    # The close button and Escape both close, and focus goes back to the launcher.
    tab.page.get_by_test_id("close").focus()
    tab.page.keyboard.press("Enter")
    expect(tab.page.get_by_test_id("panel")).to_be_hidden()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "launcher"
    tab.page.keyboard.press("Enter")
    expect(tab.page.get_by_test_id("panel")).to_be_visible()
    tab.page.keyboard.press("Escape")
    expect(tab.page.get_by_test_id("panel")).to_be_hidden()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "launcher"
    expect(tab.page.get_by_test_id("panel")).to_have_attribute("aria-modal", "true")


def test_a_citation_opens_and_closes_from_the_keyboard(tab: Tab) -> None:
    tab.open_widget()
    answer = tab.ask(CYBER)
    marker = answer.get_by_test_id("citation-marker").first
    marker.focus()
    tab.page.keyboard.press("Enter")
    panel = answer.get_by_test_id("citation-panel")
    expect(panel).to_be_visible()
    expect(marker).to_have_attribute("aria-expanded", "true")
    panel.get_by_role("button").focus()  # the passage's own hide button
    tab.page.keyboard.press("Enter")
    expect(panel).to_be_hidden()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "citation-marker"  # back where the reader was


def test_the_answer_is_announced_once_when_complete(tab: Tab) -> None:
    tab.open_widget()
    assert tab.page.evaluate(LIVE_ELEMENTS) == ["live"]  # the message list itself is not live
    tab.page.evaluate(WATCH_LIVE)

    with tab.page.expect_response(lambda r: r.url.endswith("/api/ask")) as response_info:
        answer = tab.ask(CYBER)
    expect(tab.page.get_by_test_id("live")).not_to_have_text("")
    tab.page.wait_for_timeout(300)  # anything announced late would show by now

    said = [text for text in tab.page.evaluate("() => window.__live") if text.strip()]
    assert said == ["New answer: " + response_info.value.json()["answer"]]  # once, whole
    for marker in answer.get_by_test_id("citation-marker").all():
        assert marker.get_attribute("aria-label")  # "[1]" is read as "Source 1: <page>"
