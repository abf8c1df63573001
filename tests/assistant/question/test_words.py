"""The question's words: the per-language lexicon, content words without the question's frame, foreign
questions told by their function words."""

from __future__ import annotations

import pytest

from assistant.question import LANGUAGES, content_words, focus_query, frame_words, is_foreign, lexicon


def test_content_words_drop_the_frame_words():
    assert content_words("Which directorate handles cyber issues?") == ["cyber", "issues"]
    assert content_words("Who deals with the M4 remit?") == ["M4", "remit"]
    assert content_words("What does M0.1 do.") == ["M0.1"]  # a code stays whole, the end dot goes
    # The frame words of every language are dropped, whatever the question's language.
    assert content_words("Quelle direction s'occupe de la cybersécurité ?") == ["cybersécurité"]
    assert content_words("Welche Abteilung ist für Menschenrechte zuständig?") == ["Menschenrechte"]


def test_focus_query_keeps_the_question_when_nothing_is_left():
    assert focus_query("Which directorate handles cyber issues?") == "cyber issues"
    assert focus_query("Who is it?") == "Who is it?"


def test_every_language_has_a_lexicon_and_an_unknown_one_is_named():
    for language in LANGUAGES:
        assert lexicon(language)["frame_words"] <= frame_words()
    assert {"which", "handles", "directorate"} <= lexicon("en")["frame_words"]
    with pytest.raises(ValueError, match="no lexicon for language 'xx'; known: en, fr, nl, de"):
        lexicon("xx")


def test_two_function_words_mark_a_foreign_question():
    assert is_foreign("Quelle direction s'occupe de la cybersécurité ?")
    assert is_foreign("Welke directie is bevoegd voor klimaatverandering?")
    assert is_foreign("Welche Abteilung ist für Menschenrechte zuständig?")
    assert not is_foreign("Which directorate handles cyber issues?")
