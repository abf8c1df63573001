"""The question's language: py3langid restricted to the four languages the assistant speaks."""

from __future__ import annotations

import pytest

from assistant.question import LanguageDetector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize("question, language", [
    ("Which directorate deals with NATO?", "en"),
    ("Quelle direction s'occupe de la cybersécurité ?", "fr"),
    ("Qui suit les questions de désarmement ?", "fr"),
    ("Welke directie is bevoegd voor klimaatverandering?", "nl"),
    ("Wie is verantwoordelijk voor de sancties van de VN?", "nl"),
    ("Welche Abteilung ist für Menschenrechte zuständig?", "de"),
    ("Wer kümmert sich um Abrüstung?", "de"),
])
def test_each_language_is_told_apart(detector, question, language):
    assert detector.detect(question) == language


def test_a_text_without_letters_gets_the_first_language(detector):
    assert detector.detect("") == "en"
    assert detector.detect("?? 123 !") == "en"
    assert LanguageDetector(("fr", "en")).detect("42?") == "fr"


def test_languages_are_checked_in_the_constructor():
    with pytest.raises(ValueError, match="at least one ISO 639-1 code"):
        LanguageDetector(())
    with pytest.raises(ValueError, match=r"does not know one of the languages \('en', 'xx'\)"):
        LanguageDetector(("en", "xx"))
