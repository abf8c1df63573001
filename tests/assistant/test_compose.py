"""Composing the extractive answer: the directorate lead, citation numbers, which passages may speak."""

from __future__ import annotations

import re

import pytest

from assistant.compose import citations_from, compose
from assistant.models import DirectorateMatch, Hit, Routing
from ingest.models import Chunk

pytestmark = pytest.mark.slow


def test_cyber_answer_leads_with_m4_and_cites_its_remit(assistant):
    ans = assistant.ask("Which directorate handles cyber issues?")
    assert ans.answer.startswith("This is handled by the Directorate for International Governance (M4) [1]")
    assert "cyber;" in ans.citations[0].text


def test_shared_directorates_say_so(assistant):
    ans = assistant.ask("Who follows up the EU's external policies?")
    assert ans.directorate.code == "ME6" and "DGE" in ans.answer


def test_citation_numbers_match_listed_passages(assistant):
    ans = assistant.ask("What is Belgium's approach to disarmament and non-proliferation?", top_k=5)
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)}
    assert markers and markers <= {c.n for c in ans.citations}
    # Every answer sentence is taken from the passage it cites.
    for sentence, n in re.findall(r"([^\[\]]+?)\s*\[(\d+)\]", ans.answer):
        sentence = sentence.strip()
        if sentence.startswith(("This is handled", "Within the DGM", "It works under", "The ")) and "(" in sentence:
            continue  # the directorate lead, which names the unit of the cited remit
        assert sentence in ans.citations[int(n) - 1].text, (sentence, n)


def _passage(n: int, text: str, directorates: tuple[str, ...] = ()) -> Hit:
    return Hit(chunk=Chunk(id=f"doc-{n:03d}-x", doc_id="doc", doc_title="Doc", section=None, position=n, text=text,
                           start=0, end=len(text), content_hash="x", directorates=directorates), score=1.0 / n)


def test_a_later_passage_speaks_only_with_a_sentence_that_shares_a_word_with_the_question():
    hits = [_passage(1, "Belgium calls for the universal abolition of the death penalty. It acts at the UN."),
            _passage(2, "Belgium's actions on food security are both humanitarian and structural."),
            _passage(3, "The death penalty is never justified. Executions are irreversible.")]
    text = compose("What is Belgium's stance on the death penalty?", hits, citations_from(hits), None, False)
    assert "food security" not in text  # shares no topical word with the question: not padded in
    assert "abolition of the death penalty. [1]" in text and "The death penalty is never justified. [3]" in text
    # The best passage speaks even when a paraphrase shares no word with it.
    text = compose("Who wants executions stopped everywhere?", hits[1:2], citations_from(hits[1:2]), None, False)
    assert text == "Belgium's actions on food security are both humanitarian and structural. [1]"


def test_when_the_answer_names_a_unit_a_later_passage_speaks_only_if_labelled_with_it():
    hits = [_passage(1, "Belgium takes part in peacekeeping missions with a focus on quality.", ("M2",)),
            _passage(2, "Belgian citizens take part in election observation missions.", ("M3",)),
            _passage(3, "Peacekeeping is one of the essential elements of peace and security.", ("M1", "M2"))]
    m2 = DirectorateMatch(code="M2", name="Directorate for the United Nations and OIF", confidence=0.9,
                          evidence_id=None)
    question = "What does Belgium do in peacekeeping missions?"
    text = compose(question, hits, citations_from(hits), Routing(primary=m2), False)
    assert "election observation" not in text  # shares "missions", but is another unit's topic
    assert "[1]" in text and "essential elements of peace and security. [3]" in text
    # With no unit named, shared words decide alone.
    assert "election observation missions. [2]" in compose(question, hits, citations_from(hits), None, False)
