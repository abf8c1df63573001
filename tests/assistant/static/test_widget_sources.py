"""How the widget shows its sources, in a real Chromium against the real service: links that open the page at the
passage, the page in the other languages, lists drawn as lists, the answer's notice, the service's limits.

The twins test serves an index built from a folder of saved HTML pages (the crawler's fictional fixture site,
tests/ingest/fixtures/site/), each page with its canonical address and hreflang alternates.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Route, expect

from tests.assistant.static.browser import CYBER, REPLIES, SHADOW_IMG_COUNT, STORAGE_KEY, Tab, plain_words
from tests.helpers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(60, func_only=True)]

SITE = ROOT / "tests" / "ingest" / "fixtures" / "site"
SERVICE_READY_S = 120  # a service started by a test loads its model and index


def _ask_and_read(tab: Tab, question: str) -> tuple[Any, dict[str, Any]]:
    """Asks through the widget; returns the reply's locator and the body the service sent."""
    with tab.page.expect_response(lambda r: r.url.endswith("/api/ask")) as response_info:
        reply = tab.ask(question)
    return reply, response_info.value.json()


def _rewrite_ask(tab: Tab, change: Callable[[dict[str, Any]], None]) -> None:
    """Passes every /api/ask to the real service and changes its answer with `change` on the way back."""

    def route(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        change(body)
        route.fulfill(response=response, json=body)

    tab.page.route("**/api/ask", route)


def test_sources_link_to_the_page_and_to_the_passage(tab: Tab) -> None:
    tab.open_widget()
    answer, body = _ask_and_read(tab, CYBER)
    first = body["citations"][0]
    assert first["url"] and "#:~:text=" in first["link"]  # the shipped structure page has an address

    page_link = answer.get_by_test_id("source-link").first
    expect(page_link).to_have_attribute("href", first["url"])
    expect(page_link).to_have_attribute("target", "_blank")
    expect(page_link).to_have_attribute("rel", "noopener noreferrer")

    answer.get_by_test_id("citation-marker").first.click()
    link = answer.get_by_test_id("citation-panel").get_by_test_id("citation-link")
    cited = next(c for c in body["citations"]
                 if c["n"] == int(answer.get_by_test_id("citation-marker").first.inner_text()))
    expect(link).to_have_attribute("href", cited["link"])
    expect(link).to_have_accessible_name("Open the page at this passage (opens in a new tab)")
    # The shipped corpus names no language versions: no twins line; the other passages retrieved are listed
    # apart, as the API sends them.
    expect(answer.get_by_test_id("citation-twins")).to_have_count(0)
    expect(answer.get_by_test_id("related")).to_have_count(len(body["related"]))


def test_a_list_in_a_passage_is_drawn_as_a_list(tab: Tab) -> None:
    """The M4 passage lists its areas one per line ("- cyber;"): a list in the answer and in the open passage."""
    tab.open_widget()
    answer, body = _ask_and_read(tab, CYBER)
    areas = next(c for c in body["citations"] if "\n- cyber;" in c["text"])

    items = answer.locator(".answer-text").get_by_test_id("list").locator("li")
    expect(items).to_contain_text(["International economic", "organised financial crime", "cyber;", "space;",
                                   "the rule of law"])
    answer.get_by_test_id("citation-source").nth(areas["n"] - 1).click()
    passage = answer.get_by_test_id("citation-panel").get_by_test_id("citation-text")
    expect(passage.get_by_role("list")).to_have_count(1)
    expect(passage.get_by_role("listitem")).to_have_count(5)
    assert plain_words(passage.inner_text()) == plain_words(areas["text"])


def test_a_list_run_into_one_line_is_split_safely(tab: Tab) -> None:
    """ "areas: - a; - b; - c" and "• a • b" become lists; a lone dash in a name does not; markup stays text."""
    evil = '<img src=x onerror="window.__xss=1">'
    text = (f"Belgian policy in the following areas: - cyber; - space; - {evil}\n"
            "The Directorate for Counter Terrorism - Countering Violence Extremism (M7).\n"
            "Priorities • peace • justice")

    def one_citation(body: dict[str, Any]) -> None:
        body["abstained"] = False
        body["answer"] = "See the passage [1]."
        body["citations"] = [{**body["citations"][0], "n": 1, "text": text}]

    tab.open_widget()
    _rewrite_ask(tab, one_citation)
    answer = tab.ask(CYBER)
    answer.get_by_test_id("citation-marker").first.click()
    passage = answer.get_by_test_id("citation-panel").get_by_test_id("citation-text")

    lists = passage.get_by_role("list")
    expect(lists).to_have_count(2)
    expect(lists.first.get_by_role("listitem")).to_have_text(["cyber;", "space;", evil])
    expect(lists.last.get_by_role("listitem")).to_have_text(["peace", "justice"])
    expect(passage.locator("p")).to_have_text([
        "Belgian policy in the following areas:",
        "The Directorate for Counter Terrorism - Countering Violence Extremism (M7).",
        "Priorities",
    ])
    tab.page.wait_for_timeout(300)  # an injected <img> would have failed to load and fired onerror by now
    assert tab.page.evaluate(SHADOW_IMG_COUNT) == 0
    assert tab.page.evaluate("() => typeof window.__xss") == "undefined"


def test_the_answers_notice_is_shown(tab: Tab) -> None:
    """A conversation the service no longer knows: the question is answered on its own and the answer says so."""
    tab.open_demo()
    tab.page.evaluate(f"""() => sessionStorage.setItem('{STORAGE_KEY}', JSON.stringify({{
        session_id: 'gone-gone-gone-gone', open: true,
        messages: [{{role: 'user', text: 'An earlier question'}}]}}))""")
    tab.page.reload()
    expect(tab.page.get_by_test_id("panel")).to_be_visible()

    answer, body = _ask_and_read(tab, CYBER)

    assert body["notice"]
    notice = answer.get_by_test_id("notice")
    expect(notice).to_have_text("Note: " + body["notice"])
    expect(tab.page.get_by_test_id("live")).to_contain_text(body["notice"])
    tab.page.reload()  # kept with the conversation
    expect(tab.page.locator(REPLIES).last.get_by_test_id("notice")).to_contain_text(body["notice"])
    # An answer without a notice shows none.
    expect(tab.ask(CYBER).get_by_test_id("notice")).to_have_count(0)


def test_role_and_related_are_shown_when_the_api_gives_them(tab: Tab) -> None:
    """`role: "remit"` on a citation and an answer's `related` passages (optional fields of the API)."""

    def with_role_and_related(body: dict[str, Any]) -> None:
        body["citations"][0]["role"] = "remit"
        for c in body["citations"][1:]:
            c["role"] = "answer"
        body["related"] = [{**c, "n": 0} for c in body["citations"][:1]] + [
            {"n": 0, "id": "x#1", "title": "Unlinked page", "section": None, "source": "javascript:alert(1)",
             "text": "t", "score": 0.1, "doc_id": "x", "start": 0, "end": 1, "url": "javascript:alert(1)"}]

    tab.open_widget()
    _rewrite_ask(tab, with_role_and_related)
    answer, body = _ask_and_read(tab, CYBER)

    first = answer.get_by_test_id("citation-source").first
    expect(first).to_have_accessible_name(f"Source 1: {body['citations'][0]['title']} (The unit's remit)")
    if len(body["citations"]) > 1:
        expect(answer.get_by_test_id("citation-source").nth(1)).not_to_have_accessible_name(
            f"Source 2: {body['citations'][1]['title']} (The unit's remit)")
    first.click()
    expect(answer.get_by_test_id("citation-panel").get_by_test_id("citation-role")).to_have_text("The unit's remit")
    related = answer.get_by_test_id("related")
    expect(related).to_have_count(2)
    expect(related.first.locator("a")).to_have_attribute("href", body["related"][0]["link"])
    expect(related.last).to_have_text("Unlinked page")
    assert related.last.locator("a").count() == 0  # a javascript: address never becomes a link


def test_the_question_limit_comes_from_the_service(new_tab: Callable[..., Tab], spawn_service: Any) -> None:
    service = spawn_service(env={"DGM_MAX_QUESTION_CHARS": "300"}, ready_timeout=SERVICE_READY_S)
    assert httpx.get(service.url + "/api/config").json()["max_question_chars"] == 300
    tab = new_tab(url=service.url)
    tab.open_widget()
    field_ = tab.page.get_by_test_id("input")
    expect(field_).to_have_attribute("maxlength", "300")
    expect(tab.page.get_by_test_id("counter")).to_have_text("0 / 300 characters")

    field_.evaluate("el => el.removeAttribute('maxlength')")
    field_.fill("a" * 301)
    with tab.page.expect_response(lambda r: r.url.endswith("/api/ask")) as response_info:
        tab.page.get_by_test_id("send").click()
    assert response_info.value.status in (413, 422)
    expect(tab.page.get_by_test_id("error")).to_have_text("Your question is too long (300 characters at most).")


def test_without_the_services_limits_the_widget_still_works(tab: Tab) -> None:
    tab.page.route("**/api/config", lambda route: route.abort("internetdisconnected"))
    tab.open_widget()
    assert tab.page.get_by_test_id("input").get_attribute("maxlength") is None
    expect(tab.page.get_by_test_id("counter")).to_have_text("0 characters")
    expect(tab.ask(CYBER).get_by_test_id("citation-marker").first).to_be_visible()


@pytest.fixture(scope="module")
def site_index(settings: Any, embedder: Any, tmp_path_factory: Any) -> tuple[Path, Path]:
    """An index of a folder of saved HTML pages (the fixture site in four languages), built beside the session's
    index (so it shares the session's exported model); returns (corpus folder, index folder)."""
    from assistant.factory import build

    corpus = tmp_path_factory.mktemp("saved-pages") / "corpus"
    for lang in ("en", "fr", "nl", "de"):
        shutil.copytree(SITE / lang, corpus / "pages" / lang)
    # The fixture site has no structure page, so it has no units: the DGM's curated catalogue and themes, which
    # name the DGM's units, are not copied (a YAML entry for a unit no page names is an error).
    index_dir = Path(settings.index_dir).parent / "saved-pages-index"
    build(settings.model_copy(update={"corpus_dir": corpus, "index_dir": index_dir}), embedder=embedder,
          progress=False)
    return corpus, index_dir


def test_a_citation_offers_its_page_in_the_other_languages(new_tab: Callable[..., Tab], spawn_service: Any,
                                                           site_index: tuple[Path, Path]) -> None:
    corpus, index_dir = site_index
    service = spawn_service(index_dir=index_dir, corpus_dir=corpus, ready_timeout=SERVICE_READY_S)
    tab = new_tab(url=service.url)
    tab.open_widget()
    answer, body = _ask_and_read(tab, "Who applies sanctions?")
    cited = body["citations"][0]
    assert cited["url"].startswith("https://ministry.example/") and cited["link"].startswith(cited["url"] + "#:~:text=")
    assert set(cited["twins"]) == {"en", "fr", "nl", "de"}

    answer.get_by_test_id("citation-source").first.click()
    panel = answer.get_by_test_id("citation-panel")
    expect(panel.get_by_test_id("citation-link")).to_have_attribute("href", cited["link"])
    own = next(lang for lang, url in cited["twins"].items() if url == cited["url"])
    others = [lang for lang in ("en", "fr", "nl", "de") if lang != own]
    twins = panel.get_by_test_id("twin")
    expect(twins).to_have_text([lang.upper() for lang in others])
    names = {"en": "English", "fr": "français", "nl": "Nederlands", "de": "Deutsch"}
    for i, lang in enumerate(others):
        expect(twins.nth(i)).to_have_attribute("href", cited["twins"][lang])
        expect(twins.nth(i)).to_have_attribute("hreflang", lang)
        expect(twins.nth(i)).to_have_accessible_name(f"{names[lang]} (opens in a new tab)")
    expect(panel.get_by_test_id("citation-twins")).to_contain_text("This page in:")
