"""The embeddable chat widget (assistant/static/widget.js, .css) in a real Chromium, against the real service.

Drives Debian's /usr/bin/chromium through Playwright's sync API (no browser download: Debian's build only). The service
comes from the session fixture `live_server` in tests/conftest.py: an object with `url` (base URL of the
running app, which serves the demo page `/`, `/widget.js` and the API) and `feedback_records()` (its
feedback database). Screenshots go to test-results/widget/; with DGM_UPDATE_SCREENSHOTS=1 they are also
copied to docs/widget-desktop.png and docs/widget-mobile.png.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.assistant.static.browser import (
    ANSWER_MS,
    CYBER,
    DEEP_ACTIVE_TESTID,
    DESKTOP,
    DOCS,
    MOBILE,
    RECORD_CSP_VIOLATIONS,
    REPLIES,
    RESULTS,
    SHADOW_IMG_COUNT,
    STEP_MS,
    TEXT_COLOURS,
    Tab,
    plain_words,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(30, func_only=True)]


def _contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two CSS rgb()/rgba() colours (opaque ones)."""

    def luminance(colour: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", colour)[:3])
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _lines_rated_up(service: Any) -> list[dict[str, Any]]:
    return [r for r in service.feedback_records() if r.get("rating") == "up"]


def test_starter_question_gives_cited_answer_with_badge(tab: Tab) -> None:
    tab.open_widget()
    starter = tab.page.get_by_test_id("starter").first
    expect(starter).to_be_visible()
    question = starter.inner_text().strip()
    assert question

    starter.click()

    expect(tab.page.get_by_test_id("msg-user").last).to_have_text(question)
    answer = tab.page.get_by_test_id("msg-answer").last
    expect(answer).to_be_visible(timeout=ANSWER_MS)
    expect(answer.get_by_test_id("citation-marker").first).to_be_visible()
    badge = answer.get_by_test_id("badge")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text(re.compile(r"\bM[DE]?\d"))
    expect(badge).to_contain_text(re.compile(r"confidence \d{1,3}%"))
    expect(badge).to_have_attribute("title", re.compile(r"confidence \d{1,3}%"))
    expect(tab.page.get_by_test_id("starter")).to_have_count(0)


def test_citation_marker_opens_the_cited_passage(tab: Tab) -> None:
    tab.open_widget()
    with tab.page.expect_response(lambda r: r.url.endswith("/api/ask")) as response_info:
        answer = tab.ask(CYBER)
    body = response_info.value.json()
    marker = answer.get_by_test_id("citation-marker").first
    n = int(marker.inner_text().strip("[] "))
    cited = next(c for c in body["citations"] if c["n"] == n)

    panel = answer.get_by_test_id("citation-panel")
    expect(panel).to_be_hidden()
    marker.click()

    expect(panel).to_be_visible()
    expect(marker).to_have_attribute("aria-expanded", "true")
    expect(panel.get_by_test_id("citation-title")).to_contain_text(cited["title"])
    # The passage's words, whatever became a list (its lines starting with "-" are list items).
    assert plain_words(panel.get_by_test_id("citation-text").inner_text()) == plain_words(cited["text"])
    if cited.get("section"):
        expect(panel).to_contain_text(cited["section"])

    marker.click()
    expect(panel).to_be_hidden()


def test_follow_up_question_is_understood(tab: Tab) -> None:
    tab.open_widget()
    first = tab.ask(CYBER)
    expect(first.get_by_test_id("badge")).to_contain_text("M4")

    follow_up = tab.ask("Does it also deal with space?")

    expect(follow_up.get_by_test_id("badge")).to_contain_text("M4")


def test_thumbs_up_is_recorded(tab: Tab, live_server: Any) -> None:
    tab.open_widget()
    question = "What does the Directorate for Human Rights do?"
    answer = tab.ask(question)
    ups_before = len(_lines_rated_up(live_server))

    answer.get_by_test_id("thumb-up").click()

    expect(answer.get_by_test_id("thumb-up")).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_test_id("thumb-up")).to_be_disabled()
    expect(answer.get_by_test_id("thumb-down")).to_be_disabled()
    deadline = time.monotonic() + STEP_MS / 1000
    ups = _lines_rated_up(live_server)
    while len(ups) <= ups_before and time.monotonic() < deadline:
        time.sleep(0.1)
        ups = _lines_rated_up(live_server)
    assert len(ups) == ups_before + 1, f"no new 'up' record in {live_server.database_url}"
    assert ups[-1].get("question", question) == question


def test_rating_an_earlier_answer_names_its_conversation(tab: Tab) -> None:
    """After a follow-up, a thumb on the first answer names that answer's conversation and question (a first
    answer's session_id is a token; the rating's id part is what the records are keyed by)."""
    tab.open_widget()
    replies: list[dict] = []
    tab.page.on("response", lambda r: replies.append(r.json()) if r.url.endswith("/api/ask") else None)
    tab.ask(CYBER)
    tab.ask("Does it also deal with space?")
    first = tab.page.locator(REPLIES).nth(0)  # tab.ask's locator follows the latest reply
    assert len(replies) == 2 and replies[0]["session_id"] != replies[1]["session_id"]
    with tab.page.expect_request(lambda r: r.url.endswith("/api/feedback")) as sent:
        first.get_by_test_id("thumb-up").click()
    assert sent.value.post_data_json["session_id"].split(".")[0] == replies[0]["session_id"].split(".")[0]
    assert sent.value.post_data_json["question"] == CYBER


def test_markup_in_a_question_is_shown_as_text(tab: Tab) -> None:
    tab.open_widget()
    payload = "<img src=x onerror=alert(1)>"

    tab.ask(payload)

    expect(tab.page.get_by_test_id("msg-user").last).to_have_text(payload)
    assert tab.page.evaluate(SHADOW_IMG_COUNT) == 0

    tab.ask('<img src=x onerror="window.__xss=1">')
    tab.page.wait_for_timeout(300)  # an injected <img> would fail to load and fire onerror by now
    assert tab.page.evaluate(SHADOW_IMG_COUNT) == 0
    assert tab.page.evaluate("() => typeof window.__xss") == "undefined"
    assert tab.dialogs == []


def test_markup_from_the_server_is_shown_as_text(tab: Tab) -> None:
    """The real answer, with markup injected into every field the widget shows, still renders as text."""
    evil = '<img src=x onerror="window.__xss=1">'

    def poison(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["answer"] = f"{evil} covered here [1]."
        body["abstained"] = False
        body["citations"] = [
            {
                "n": 1,
                "id": "evil#1",
                "title": f"Title {evil}",
                "section": f"Section {evil}",
                "source": "javascript:window.__xss=2",
                "text": f"Passage {evil}",
                "score": 0.9,
            }
        ]
        body["directorate"] = {"code": "M4", "name": f"Name {evil}", "confidence": 0.5, "evidence_id": None}
        body["suggestions"] = [f"Suggestion {evil}"]
        route.fulfill(response=response, json=body)

    tab.open_widget()
    tab.page.route("**/api/ask", poison)
    answer = tab.ask(CYBER)
    answer.get_by_test_id("citation-marker").first.click()

    panel = answer.get_by_test_id("citation-panel")
    expect(panel.get_by_test_id("citation-title")).to_contain_text(f"Title {evil}")
    expect(panel.get_by_test_id("citation-text")).to_have_text(f"Passage {evil}")
    expect(panel).to_contain_text("javascript:window.__xss=2")
    expect(answer.get_by_test_id("badge")).to_contain_text(f"Name {evil}")
    expect(answer).to_contain_text(evil)
    assert panel.locator("a").count() == 0  # a javascript: source must not become a link
    tab.page.wait_for_timeout(300)
    assert tab.page.evaluate(SHADOW_IMG_COUNT) == 0
    assert tab.page.evaluate("() => typeof window.__xss") == "undefined"
    assert tab.dialogs == []


def test_the_answer_bubble_says_the_answers_language(tab: Tab) -> None:
    """An answer's `language` (en, fr, nl, de) becomes the bubble's lang, for screen readers; none or another: none."""
    languages = iter(["fr", "tlh", None])

    def with_language(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body.pop("language", None)
        language = next(languages)
        if language:
            body["language"] = language
        route.fulfill(response=response, json=body)

    tab.open_widget()
    tab.page.route("**/api/ask", with_language)
    first = tab.ask(CYBER)
    expect(first).to_have_attribute("lang", "fr")
    assert tab.ask(CYBER).get_attribute("lang") is None
    assert tab.ask(CYBER).get_attribute("lang") is None
    expect(tab.page.get_by_test_id("send")).to_have_attribute("aria-label", "Send")  # the UI keeps its own

    tab.page.reload()
    expect(tab.page.locator(REPLIES).first).to_have_attribute("lang", "fr")


def test_conversation_survives_reload_and_new_conversation_clears_it(tab: Tab) -> None:
    tab.open_widget()
    answer = tab.ask(CYBER)
    answer_text = answer.locator(".answer-text").inner_text()
    stored = tab.stored()
    assert stored and stored["session_id"]
    session_id = stored["session_id"]

    tab.page.reload()

    expect(tab.page.get_by_test_id("panel")).to_be_visible()  # it was open: it reopens
    expect(tab.page.get_by_test_id("msg-user")).to_have_text([CYBER])
    expect(tab.page.locator(REPLIES)).to_have_count(1)
    expect(tab.page.locator(REPLIES).last.locator(".answer-text")).to_have_text(answer_text, use_inner_text=True)
    assert tab.stored()["session_id"] == session_id

    tab.page.get_by_test_id("new-conversation").click()

    expect(tab.page.get_by_test_id("msg-user")).to_have_count(0)
    expect(tab.page.locator(REPLIES)).to_have_count(0)
    expect(tab.page.get_by_test_id("starter").first).to_be_visible()
    stored = tab.stored()
    assert stored is None or (stored["session_id"] is None and stored["messages"] == [])
    tab.page.reload()
    expect(tab.page.get_by_test_id("msg-user")).to_have_count(0)


def test_keyboard_only(tab: Tab) -> None:
    tab.open_demo()
    for _ in range(20):
        tab.page.keyboard.press("Tab")
        if tab.page.evaluate(DEEP_ACTIVE_TESTID) == "launcher":
            break
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "launcher"
    outline = tab.page.get_by_test_id("launcher").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid", "the focused launcher should show a focus outline"

    tab.page.keyboard.press("Enter")
    expect(tab.page.get_by_test_id("panel")).to_be_visible()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "input"

    tab.page.keyboard.type(CYBER)
    tab.page.keyboard.press("Shift+Enter")  # a newline, not a send
    tab.page.keyboard.type("Thanks.")
    expect(tab.page.get_by_test_id("input")).to_have_value(f"{CYBER}\nThanks.")
    expect(tab.page.get_by_test_id("msg-user")).to_have_count(0)
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator(REPLIES)).to_have_count(1, timeout=ANSWER_MS)
    expect(tab.page.get_by_test_id("input")).to_be_enabled()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "input"

    tab.page.keyboard.press("Escape")
    expect(tab.page.get_by_test_id("panel")).to_be_hidden()
    assert tab.page.evaluate(DEEP_ACTIVE_TESTID) == "launcher"
    expect(tab.page.get_by_test_id("launcher")).to_have_attribute("aria-expanded", "false")


def test_panel_fills_a_small_screen(new_tab: Callable[..., Tab]) -> None:
    tab = new_tab(MOBILE)
    tab.open_widget()

    box = tab.page.get_by_test_id("panel").bounding_box()
    assert box is not None
    assert box["x"] == pytest.approx(0, abs=1)
    assert box["width"] == pytest.approx(MOBILE[0], abs=1)
    assert box["height"] == pytest.approx(MOBILE[1], abs=1)
    expect(tab.page.get_by_test_id("input")).to_be_in_viewport()
    expect(tab.page.get_by_test_id("close")).to_be_in_viewport()


def test_over_long_question_shows_the_service_error(tab: Tab) -> None:
    tab.open_widget()
    field_ = tab.page.get_by_test_id("input")
    expect(field_).to_have_attribute("maxlength", "1000")
    field_.evaluate("el => el.removeAttribute('maxlength')")
    field_.fill("a" * 1001)
    expect(tab.page.get_by_test_id("counter")).to_contain_text("1001 / 1000")

    with tab.page.expect_response(lambda r: r.url.endswith("/api/ask")) as response_info:
        tab.page.get_by_test_id("send").click()

    assert response_info.value.status in (413, 422)
    error = tab.page.get_by_test_id("error")
    expect(error).to_be_visible()
    message = error.inner_text().strip()
    assert message and "[object" not in message and "{" not in message
    expect(tab.page.locator(REPLIES)).to_have_count(0)
    expect(field_).to_have_value("a" * 1001)  # given back to shorten


def test_waiting_shows_typing_and_blocks_double_sends(tab: Tab) -> None:
    tab.open_widget()
    held: list[Route] = []
    tab.page.route("**/api/ask", lambda route: held.append(route))  # held until the test lets it go
    asks: list[str] = []
    tab.page.on("request", lambda r: asks.append(r.url) if r.url.endswith("/api/ask") else None)
    tab.page.get_by_test_id("input").fill(CYBER)
    tab.page.get_by_test_id("input").press("Enter")

    expect(tab.page.get_by_test_id("typing")).to_be_visible()
    expect(tab.page.get_by_test_id("input")).to_be_disabled()
    expect(tab.page.get_by_test_id("send")).to_be_disabled()
    tab.page.get_by_test_id("send").click(force=True)  # a click on the disabled button does nothing
    assert tab.page.get_by_test_id("messages").get_attribute("aria-busy") == "true"
    assert len(held) == 1

    held[0].continue_()

    expect(tab.page.locator(REPLIES)).to_have_count(1, timeout=ANSWER_MS)
    expect(tab.page.get_by_test_id("typing")).to_have_count(0)
    expect(tab.page.get_by_test_id("input")).to_be_enabled()
    expect(tab.page.get_by_test_id("msg-user")).to_have_count(1)
    assert len(asks) == 1
    live = tab.page.locator('[data-testid="live"][aria-live="polite"]')
    expect(live).to_contain_text(tab.page.locator(REPLIES).last.locator(".answer-text").inner_text()[:40])


def test_network_failure_offers_a_retry(tab: Tab) -> None:
    tab.open_widget()
    tab.page.route("**/api/ask", lambda route: route.abort("internetdisconnected"))
    tab.page.get_by_test_id("input").fill(CYBER)
    tab.page.get_by_test_id("send").click()

    expect(tab.page.get_by_test_id("error")).to_be_visible()
    expect(tab.page.get_by_test_id("input")).to_be_enabled()
    tab.page.unroute("**/api/ask")
    tab.page.get_by_test_id("retry").click()

    expect(tab.page.locator(REPLIES)).to_have_count(1, timeout=ANSWER_MS)
    expect(tab.page.get_by_test_id("error")).to_have_count(0)
    expect(tab.page.get_by_test_id("msg-user")).to_have_count(1)


def test_demo_page_has_no_console_errors_or_csp_violations(tab: Tab) -> None:
    tab.page.add_init_script(RECORD_CSP_VIOLATIONS)
    response = tab.page.goto(tab.url + "/")
    assert response is not None and response.ok
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp, f"the demo page should be served with a strict CSP, got {csp!r}"
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("FPS Foreign Affairs — Multilateral policy")
    expect(tab.page.locator("pre code")).to_contain_text("widget.js")

    tab.page.get_by_test_id("launcher").click()
    expect(tab.page.get_by_test_id("starter").first).to_be_visible()
    tab.ask(CYBER)
    tab.page.locator(REPLIES).last.get_by_test_id("citation-marker").first.click()

    assert tab.page.evaluate("() => window.__cspViolations") == []
    assert tab.console_errors == []


def test_host_page_styles_do_not_leak_in_or_out(tab: Tab) -> None:
    tab.open_widget()
    starter = tab.page.get_by_test_id("starter").first
    expect(starter).to_be_visible()
    # The demo page styles every <button> purple, uppercase; the widget's buttons must not take that.
    style = starter.evaluate("el => [getComputedStyle(el).textTransform, getComputedStyle(el).fontFamily]")
    assert style[0] == "none" and "system-ui" in style[1]
    host_button = tab.page.locator("main button")
    assert host_button.evaluate("el => getComputedStyle(el).textTransform") == "uppercase"
    mode = tab.page.evaluate("() => document.querySelector('dgm-assistant-widget').shadowRoot.mode")
    assert mode == "open"


def test_nothing_shows_before_the_stylesheet_applies(tab: Tab) -> None:
    held: list[Route] = []
    tab.page.route("**/widget.css", lambda route: held.append(route))
    tab.page.goto(tab.url + "/", wait_until="domcontentloaded")  # the held sheet holds the load event too
    deadline = time.monotonic() + STEP_MS / 1000
    while not held and time.monotonic() < deadline:
        tab.page.wait_for_timeout(50)
    assert held, "widget.css was never requested"
    tab.page.wait_for_timeout(300)
    expect(tab.page.get_by_test_id("launcher")).to_have_count(0)

    held[0].continue_()

    launcher = tab.page.get_by_test_id("launcher")
    expect(launcher).to_be_visible()
    assert launcher.evaluate("el => getComputedStyle(el).position") == "fixed"


def test_a_stylesheet_blocked_by_the_host_pages_csp_is_fetched_and_adopted(tab: Tab) -> None:
    """A host page whose CSP style-src does not allow our origin blocks the <link>: the widget is styled anyway."""

    def strict_styles(route: Route) -> None:
        response = route.fetch()
        csp = re.sub(r"style-src [^;]*", "style-src 'none'", response.headers["content-security-policy"])
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": csp})

    tab.page.add_init_script(RECORD_CSP_VIOLATIONS)
    tab.page.route(tab.url + "/", strict_styles)
    tab.open_widget()

    assert any(v.startswith("style-src") and v.endswith("/widget.css")
               for v in tab.page.evaluate("() => window.__cspViolations"))
    assert tab.page.get_by_test_id("panel").evaluate("el => getComputedStyle(el).position") == "fixed"
    assert tab.page.evaluate("() => document.querySelector('dgm-assistant-widget').shadowRoot"
                             ".adoptedStyleSheets.length") == 1


def test_data_attributes_set_language_title_and_open(tab: Tab) -> None:
    """data-lang, data-title and data-open, on the real demo page with its embed line rewritten."""

    def rewrite(route: Route) -> None:
        response = route.fetch()
        html = response.text().replace(
            'data-title="DGM Assistant"', 'data-title="Assistant DGM" data-lang="fr" data-open="true"'
        )
        route.fulfill(response=response, body=html)

    tab.page.route(tab.url + "/", rewrite)
    tab.open_demo()

    panel = tab.page.get_by_test_id("panel")
    expect(panel).to_be_visible()  # data-open
    expect(panel).to_have_attribute("role", "dialog")
    expect(panel).to_have_attribute("aria-label", "Assistant DGM")
    expect(tab.page.get_by_test_id("send")).to_have_attribute("aria-label", "Envoyer")
    expect(tab.page.get_by_test_id("new-conversation")).to_have_attribute("aria-label", "Nouvelle conversation")
    expect(tab.page.get_by_test_id("launcher")).to_have_attribute("aria-label", "Fermer Assistant DGM")
    expect(tab.page.get_by_test_id("counter")).to_have_text("0 / 1000 caractères")


def test_texts_fall_back_to_english_when_the_language_file_fails(tab: Tab) -> None:
    def rewrite(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace('data-title="DGM Assistant"', 'data-lang="de"'))

    tab.page.route(tab.url + "/", rewrite)
    tab.page.route("**/i18n/de.json", lambda route: route.abort("internetdisconnected"))
    tab.open_widget()

    expect(tab.page.get_by_test_id("panel")).to_have_attribute("aria-label", "DGM Assistant")
    expect(tab.page.get_by_test_id("send")).to_have_attribute("aria-label", "Send")
    expect(tab.page.get_by_test_id("counter")).to_have_text("0 / 1000 characters")


def test_text_contrast_is_at_least_4_5_to_1(tab: Tab) -> None:
    tab.open_widget()
    expect(tab.page.get_by_test_id("starter").first).to_be_visible()
    texts = tab.page.evaluate(TEXT_COLOURS)
    answer = tab.ask(CYBER)
    answer.get_by_test_id("citation-marker").first.click()
    tab.ask("Do you issue passports for Belgians abroad?")  # an answer or an abstention, both count
    tab.page.mouse.move(0, 0)
    texts += tab.page.evaluate(TEXT_COLOURS)

    assert len(texts) > 10
    low = [
        (t["text"], round(_contrast(t["color"], t["background"]), 2))
        for t in texts
        if _contrast(t["color"], t["background"]) < 4.5
    ]
    assert low == []


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
def test_screenshot_of_an_answer(new_tab: Callable[..., Tab], name: str, viewport: tuple[int, int]) -> None:
    tab = new_tab(viewport)
    tab.open_widget()
    answer = tab.ask(CYBER)
    answer.get_by_test_id("citation-marker").first.click()
    expect(answer.get_by_test_id("citation-panel")).to_be_visible()
    # The picture shows the conversation from the question down, the opened passage below the answer.
    tab.page.get_by_test_id("messages").evaluate("el => { el.scrollTop = 0; }")
    tab.page.get_by_test_id("input").blur()
    tab.page.mouse.move(0, 0)  # no hover effect in the picture

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"widget-{name}.png"
    tab.page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("DGM_UPDATE_SCREENSHOTS"):
        shutil.copyfile(path, DOCS / f"widget-{name}.png")
