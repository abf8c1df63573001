"""Names of units in a question: whole-word patterns for each unit's code, name and aliases."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Phrase:
    """A whole-word pattern for a name or keyword, and a word it cannot match without (a cheap pre-check:
    a question is tested against a few hundred phrases, and most of them share no word with it)."""

    pattern: re.Pattern[str]
    needle: str
    case_sensitive: bool

    def search(self, text: str, lowered: str) -> bool:
        return (self.needle in (text if self.case_sensitive else lowered)) and bool(self.pattern.search(text))


def is_acronym(phrase: str) -> bool:
    """Short all-caps names ("UN", "IT", "NATO"), matched exactly and case-sensitively."""
    return phrase.isupper() and len(phrase) <= 6


def phrase_pattern(phrase: str) -> Phrase:
    """Whole-word pattern; short all-caps acronyms ("UN", "IT", "NATO") match case-sensitively."""
    words = phrase.split()
    body = r"\s+".join(re.escape(w) for w in words)
    acronym = is_acronym(phrase)
    pattern = re.compile(rf"(?<![\w-]){body}(?![\w-])", 0 if acronym else re.IGNORECASE)
    needle = max(words, key=len)
    return Phrase(pattern, needle if acronym else needle.lower(), acronym)


