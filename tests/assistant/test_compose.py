"""Composing the extractive answer: the directorate lead, citation numbers, which passages may speak."""

from __future__ import annotations

import re

import pytest

from assistant.compose import cite, compose
from assistant.models import DirectorateMatch, Hit, Routing
from ingest.models import Chunk
from tests.helpers import passage

pytestmark = pytest.mark.slow


def test_cyber_answer_leads_with_m4_and_cites_its_remit(assistant):
    ans = assistant.ask("Which directorate handles cyber issues?")
    assert ans.answer.startswith("This is handled by the Directorate for International Governance (M4) [1]")
    assert "cyber;" in ans.citations[0].text
    assert ans.citations[0].role == "remit" and ans.citations[0].id == ans.directorate.evidence_id


def test_only_the_passages_the_answer_refers_to_are_cited_the_others_are_related(assistant):
    ans = assistant.ask("Who handles sanctions?", top_k=5)
    # The remit passage answers the "who" question; the best-scored passage, on sanctions, is not quoted.
    assert [(c.n, c.role) for c in ans.citations] == [(1, "remit")]
    assert len(ans.citations) + len(ans.related) == 5
    assert {p.rank for p in (*ans.citations, *ans.related)} == set(range(1, 6))
    assert [p.rank for p in ans.related] == sorted(p.rank for p in ans.related)
    assert "sanctions" in ans.related[0].text and ans.related[0].id not in {c.id for c in ans.citations}
    # Every citation is referred to in the answer, in order of first reference.
    ans = assistant.ask("What does Belgium do about the death penalty?", top_k=5)
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)]
    assert list(dict.fromkeys(markers)) == [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    assert "death penalty" in ans.citations[-1].text and ans.citations[-1].role == "answer"
    assert not any("food security" in c.text for c in ans.citations)


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
    return Hit(chunk=passage(n, text, directorates=directorates), score=1.0 / n)


def test_a_later_passage_speaks_only_with_a_sentence_that_shares_a_word_with_the_question():
    hits = [_passage(1, "Belgium calls for the universal abolition of the death penalty. It acts at the UN."),
            _passage(2, "Belgium's actions on food security are both humanitarian and structural."),
            _passage(3, "The death penalty is never justified. Executions are irreversible.")]
    text = compose("What is Belgium's stance on the death penalty?", hits, None, False).text
    assert "food security" not in text  # shares no topical word with the question: not padded in
    # Numbered as the answer refers to them: the third passage is the second cited.
    assert "abolition of the death penalty. [1]" in text and "The death penalty is never justified. [2]" in text
    # The best passage speaks even when a paraphrase shares no word with it.
    text = compose("Who wants executions stopped everywhere?", hits[1:2], None, False).text
    assert text == "Belgium's actions on food security are both humanitarian and structural. [1]"


def test_when_the_answer_names_a_unit_a_later_passage_speaks_only_if_labelled_with_it():
    hits = [_passage(1, "Belgium takes part in peacekeeping missions with a focus on quality.", ("M2",)),
            _passage(2, "Belgian citizens take part in election observation missions.", ("M3",)),
            _passage(3, "Peacekeeping is one of the essential elements of peace and security.", ("M1", "M2"))]
    m2 = DirectorateMatch(code="M2", name="Directorate for the United Nations and OIF", confidence=0.9,
                          evidence_id=None)
    question = "What does Belgium do in peacekeeping missions?"
    text = compose(question, hits, Routing(primary=m2), False).text
    assert "election observation" not in text  # shares "missions", but is another unit's topic
    assert "[1]" in text and "essential elements of peace and security. [2]" in text
    # With no unit named, shared words decide alone.
    assert "election observation missions. [2]" in compose(question, hits, None, False).text


def test_a_later_passage_far_below_the_best_one_is_not_quoted():
    hits = [_passage(1, "Belgium calls for the universal abolition of the death penalty."),
            _passage(2, "The death penalty is never justified.")]  # scores half the best one's
    assert "never justified" in compose("the death penalty", hits, None, False, later_ratio=0.5).text
    assert "never justified" not in compose("the death penalty", hits, None, False, later_ratio=0.6).text


def test_citations_follow_the_answer_and_the_remit_says_so():
    remit = _passage(4, "The Directorate for Human Rights (M3) shapes the human rights policy.", ("M3",))
    hits = [_passage(1, "Belgium calls for the universal abolition of the death penalty.", ("M3",)),
            _passage(2, "Belgium's actions on food security are both humanitarian and structural."),
            _passage(3, "The death penalty is never justified.", ("M3",)), remit]
    m3 = DirectorateMatch(code="M3", name="Directorate for Human Rights", confidence=0.95,
                          evidence_id=remit.chunk.id)
    composed = compose("What does Belgium do about the death penalty?", hits, Routing(primary=m3), False)
    # The sentence naming the unit refers to its remit first, then the quotes follow.
    assert composed.text.startswith("Within the DGM, the matching directorate is the Directorate for Human Rights "
                                    "(M3) [1]. Belgium calls for the universal abolition of the death penalty. [2]")
    assert composed.cited == (remit.chunk.id, hits[0].chunk.id, hits[2].chunk.id)
    citations, related = cite(hits, composed, Routing(primary=m3))
    assert [(c.n, c.id, c.role, c.rank) for c in citations] == [
        (1, remit.chunk.id, "remit", 4), (2, hits[0].chunk.id, "answer", 1), (3, hits[2].chunk.id, "answer", 3)]
    assert [(p.id, p.rank) for p in related] == [(hits[1].chunk.id, 2)]
    # An unquoted passage is a source only when it is not far below the best one.
    assert [c.id for c in cite(hits, composed, Routing(primary=m3), unquoted_ratio=0.5)[0]][-1] == hits[1].chunk.id
    assert len(cite(hits, composed, Routing(primary=m3), unquoted_ratio=0.6)[0]) == 3
    with pytest.raises(ValueError, match="unquoted_ratio"):
        cite(hits, composed, None, unquoted_ratio=1.5)


def test_a_passage_is_quoted_in_the_sentences_ingestion_made():
    text = "Belgium acts on three fronts:\n- cyber;\n- space. Nothing else is said here."
    chunk = Chunk(id="doc-001-x", doc_id="doc", doc_title="Doc", section=None, position=1, text=text, start=0,
                  end=len(text), content_hash="x", sentences=((0, 47), (48, len(text))))
    answer = compose("What about cyber and space?", [Hit(chunk=chunk, score=1.0)], None, False).text
    assert answer == "Belgium acts on three fronts:\n- cyber;\n- space. [1]"


def test_a_who_question_quotes_the_page_that_speaks_for_the_unit_when_it_leads():
    """When a page saying which unit follows the topic leads the passages (`Assistant._with_evidence`), the
    answer quotes it, not the unit's general remit; when the first passage names another unit only, the remit
    is quoted."""
    from ingest import load_catalogue
    from tests.helpers import CORPUS

    catalogue = load_catalogue(CORPUS)
    page = _passage(1, "Within the FPS, the Directorate for Disarmament and Non-Proliferation (M5) follows the "
                       "Ottawa convention on anti-personnel mines.", ("M5",))
    remit = _passage(2, "The Directorate for Disarmament and Non-Proliferation (M5) manages Belgian policy in the "
                        "area of disarmament and non-proliferation.", ("M5",))
    m5 = DirectorateMatch(code="M5", name="Directorate for Disarmament and Non-Proliferation", confidence=0.9,
                          evidence_id=remit.chunk.id)
    question = "Who follows the Ottawa convention?"
    composed = compose(question, [page, remit], Routing(primary=m5), True, catalogue=catalogue)
    assert composed.cited == (page.chunk.id,) and "Ottawa convention on anti-personnel mines. [1]" in composed.text
    aside = _passage(1, "The Directorate for Human Rights (M3) follows the human rights aspects of the Ottawa "
                        "convention.", ("M3",))
    composed = compose(question, [aside, remit], Routing(primary=m5), True, catalogue=catalogue)
    assert composed.cited == (remit.chunk.id,) and "disarmament and non-proliferation. [1]" in composed.text
