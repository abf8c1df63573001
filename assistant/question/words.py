"""The question's words: the per-language lexicon (``lexicon/{en,fr,nl,de}.yaml``) and what it gives."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

LEXICON_DIR = Path(__file__).with_name("lexicon")
LANGUAGES = ("en", "fr", "nl", "de")

_WORD = re.compile(r"[\w'+.-]+", re.UNICODE)  # keeps codes such as M0.1 whole


@functools.cache
def lexicon(language: str) -> dict[str, frozenset[str]]:
    """One language's word lists, read once: ``frame_words`` and ``function_words``."""
    path = LEXICON_DIR / f"{language}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ValueError(f"no lexicon for language {language!r}; known: {', '.join(LANGUAGES)}") from None
    return {key: frozenset(str(w) for w in data.get(key, ()))
            for key in ("frame_words", "function_words")}


@functools.cache
def frame_words() -> frozenset[str]:
    """Words that frame a question without saying what it is about, in every language (a question's frame
    and its topic may mix languages, and the keyword query must lose the frame whatever the language)."""
    return frozenset().union(*(lexicon(lang)["frame_words"] for lang in LANGUAGES))


@functools.cache
def _foreign_words() -> frozenset[str]:
    return frozenset().union(*(lexicon(lang)["function_words"] for lang in LANGUAGES if lang != "en"))


_STEMMERS = {"en": "english", "fr": "french", "nl": "dutch", "de": "german"}


@functools.cache
def stemmer(language: str = "en"):
    """The Snowball stemmer of a language (PyStemmer), one per process; English for unknown languages."""
    import Stemmer

    return Stemmer.Stemmer(_STEMMERS.get(language, "english"))


def content_words(text: str) -> list[str]:
    """The words of a text that are not question frame words, end dots stripped."""
    frame = frame_words()
    words = (w.strip(".") for w in _WORD.findall(text))
    return [w for w in words if w and w.lower() not in frame]


def focus_query(query: str) -> str:
    """The topical words of a query: the question's frame words removed (the original if nothing is left)."""
    words = content_words(query)
    return " ".join(words) if words else query


def is_foreign(question: str) -> bool:
    """Whether two or more function words of French, Dutch or German mark the question as written in one."""
    words = re.findall(r"[\wäöüéèàç']+", question.lower())
    foreign = _foreign_words()
    return sum(w in foreign for w in words) >= 2
