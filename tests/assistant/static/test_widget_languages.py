"""French, Dutch and German conversations through the real service and the widget in a real Chromium: the
answers' framing follows the question's language, the widget's own texts follow the page's `data-lang`.

The assertions are on languages and on citing, not on which passage is cited: the service answers with whatever
engine it loads by default.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Route, expect

from assistant.compose import answer_texts
from tests.assistant.static.browser import ANSWER_MS, Tab
from tests.helpers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(60, func_only=True)]

I18N = ROOT / "assistant" / "static" / "i18n"
CONVERSATIONS = {
    "fr": ("Quelle direction s'occupe du climat ?", "Et la cybersécurité ?"),
    "nl": ("Wat doet België rond ontwapening?", "En wie doet dat?"),
    "de": ("Welche Direktion ist für Menschenrechte zuständig?", "Und was macht sie sonst?"),
}


def _openings(language: str) -> list[str]:
    """The fixed opening words of each framing sentence of `language` (its text before the first placeholder)."""
    out = []
    for text in answer_texts(language).templates.values():
        opening = re.split(r"\{\w*\}", text)[0].strip()
        if len(opening) >= 8:
            out.append(opening[:1].upper() + opening[1:])
    return out


@pytest.mark.parametrize("lang", list(CONVERSATIONS))
def test_a_conversation_in_the_pages_language(tab: Tab, lang: str) -> None:
    texts = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))

    def embed_in(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace('data-title="DGM Assistant"',
                                                                      f'data-lang="{lang}"'))

    tab.page.route(tab.url + "/", embed_in)
    tab.open_widget()
    # The widget's own texts are the page's language.
    expect(tab.page.get_by_test_id("panel")).to_have_attribute("aria-label", texts["title"])
    expect(tab.page.get_by_test_id("send")).to_have_attribute("aria-label", texts["send"])
    expect(tab.page.get_by_test_id("input")).to_have_attribute("placeholder", texts["placeholder"])
    expect(tab.page.get_by_test_id("empty")).to_contain_text(texts["welcome"])

    openings = _openings(lang)
    english = _openings("en")
    for question in CONVERSATIONS[lang]:
        with tab.page.expect_response(lambda r: r.url.endswith("/api/ask")) as response_info:
            reply = tab.ask(question)
        body = response_info.value.json()
        assert body["language"] == lang, (question, body["language"])
        expect(reply).to_have_attribute("lang", lang)  # read by screen readers in the answer's language
        # The framing is in the question's language: it opens with one of that language's sentences.
        assert any(body["answer"].startswith(o) for o in openings), (question, body["answer"][:120])
        assert not any(body["answer"].startswith(o) for o in english), (question, body["answer"][:120])
        # It cites passages, and the widget shows them with its own words in the page's language.
        assert not body["abstained"] and body["citations"], (question, body["answer"][:120])
        expect(reply.get_by_test_id("citation-marker").first).to_be_visible(timeout=ANSWER_MS)
        expect(reply.locator(".sources-label").first).to_have_text(texts["sources"])
        expect(reply.get_by_test_id("thumb-up")).to_have_attribute("aria-label", texts["helpful"])
    assert len(tab.page.get_by_test_id("msg-user").all()) == 2
