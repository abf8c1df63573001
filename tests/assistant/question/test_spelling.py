"""The speller: misspellings corrected against the real index's own vocabulary, per language, and what it
leaves alone; the setting that turns it off; a typo'd question answered end to end."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.question import Speller
from assistant.question.spelling import common_words, vocabularies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speller(assistant) -> Speller:
    sp = assistant.engine.reader.speller
    assert sp is not None, "spelling is on by default"
    return sp


def test_misspelt_words_are_corrected_to_the_index_words(speller):
    assert speller.correct("Who deals with sanctoins?", "en") == "Who deals with sanctions?"
    assert speller.correct("Which directorate handles disarmement?", "en") == \
        "Which directorate handles disarmament?"
    assert speller.correct("Who handels UN santions?", "en") == "Who handles UN sanctions?"
    assert speller.correct("Peacekeping missons", "en") == "Peacekeeping missions"  # capital kept


def test_codes_numbers_short_and_known_words_are_left_alone(speller):
    for unchanged in ("What does M0.1 do with MD8 and M1 in 2025?",  # codes and numbers
                      "Does NATO or the OSCE follow CoorMulti?",  # acronyms, an in-house name
                      "Who is teh hed of it?",  # short words, even misspelt
                      "Who follows disarmament and the sanctions committees?",  # the index's own words
                      "Where can I study abroad, and would it help?",  # common English, not in the pages
                      "Can I get a visa for Switzerland?",
                      # a unit's name in a language the index has no chunks in (a French question read as English)
                      "Qui est la direction Désarmement et Non-prolifération ?"):
        assert speller.correct(unchanged, "en") == unchanged


def test_a_language_is_corrected_only_against_its_own_chunks(assistant, speller):
    """The shipped corpus is English only: a French misspelling stays as it is, and is corrected once the index
    has French chunks, against those; an English question does not borrow their words."""
    assert speller.languages == ("en",)
    question = "Qui gère le désarmemnt nucléaire ?"
    assert speller.correct(question, "fr") == question
    english = assistant.engine.index.chunks
    french = dataclasses.replace(english[0], id="fr-1", language="fr", sentences=(),
                                 text="La direction Désarmement et Non-prolifération suit le désarmement nucléaire.")
    both = Speller.from_index([*english, french], assistant.catalogue)
    assert set(both.languages) == {"en", "fr"}
    assert both.correct(question, "fr") == "Qui gère le désarmement nucléaire ?"
    assert both.correct("Who handles désarmemnt?", "en") == "Who handles désarmemnt?"
    assert both.correct("Who deals with sanctoins?", "en") == "Who deals with sanctions?"


def test_the_vocabulary_holds_the_catalogue_names_and_the_chunk_words(assistant):
    vocab = vocabularies(assistant.engine.index.chunks, assistant.catalogue)
    assert set(vocab) == {"en"}
    assert vocab["en"]["disarmament"] > 1 and vocab["en"]["coormulti"] >= 1
    assert "abroad" in common_words("en", 3.0) and "abroad" not in vocab["en"]


def test_the_knobs_are_validated():
    with pytest.raises(ValueError, match="min_length must be at least 1, got 0"):
        Speller({"en": {"word": 1}}, min_length=0)
    with pytest.raises(ValueError, match="long_word must be at least min_length"):
        Speller({"en": {"word": 1}}, long_word=3)


def test_spelling_off_leaves_questions_as_written(settings, built_index, embedder):
    from assistant.factory import load_engine, make_speller

    off = settings.model_copy(update={"spelling": False})
    engine = load_engine(off, embedder)
    assert engine.reader.speller is None and make_speller(off, engine.index) is None
    q = engine.reader.read("Who deals with sanctoins?")
    assert q.spelled == q.query == "Who deals with sanctoins?"


def test_a_typo_question_is_answered_with_the_speller_and_not_without(assistant, settings, embedder):
    """One slip in the only topical word: without the speller neither retriever knows "aerospsce", and the
    question is declined or answered from another passage; corrected, it is answered from the aerospace
    passage."""
    from assistant.factory import load_engine
    from assistant.pipeline import Assistant

    question = "How does the FPS look at aerospsce?"
    ans = assistant.ask(question)
    assert not ans.abstained
    assert any("aerospace" in c.text.lower() for c in ans.citations)
    without = Assistant(load_engine(settings.model_copy(update={"spelling": False}), embedder), assistant.options)
    other = without.ask(question)
    assert other.abstained or not any("aerospace" in c.text.lower() for c in other.citations)
