"""Question understanding: once per turn, the user's message becomes a frozen `Question` (its standalone
text, the units it names, what it asks for, its language) that retrieval, routing, the scope decision and
composing read, so no later stage parses the wording again."""

from __future__ import annotations

from index import stemmer  # the keyword index's own stemmers: a stem here is the one BM25 indexed

from .followup import Resolved, asks_who, resolve, topic_of
from .kind import DEFAULT_KIND, FACT_KINDS, KINDS, OFF_TOPIC_KINDS, SERVICE_KIND, KindModel, top_kind
from .language import LanguageDetector
from .names import Phrase, is_acronym, phrase_pattern
from .reader import Question, QuestionReader
from .spelling import Speller
from .words import LANGUAGES, content_words, focus_query, frame_words, is_foreign, lexicon

__all__ = [
    "DEFAULT_KIND",
    "FACT_KINDS",
    "SERVICE_KIND",
    "KINDS",
    "KindModel",
    "OFF_TOPIC_KINDS",
    "LANGUAGES",
    "LanguageDetector",
    "Phrase",
    "Question",
    "QuestionReader",
    "Resolved",
    "Speller",
    "asks_who",
    "content_words",
    "focus_query",
    "frame_words",
    "is_acronym",
    "is_foreign",
    "lexicon",
    "phrase_pattern",
    "top_kind",
    "resolve",
    "stemmer",
    "topic_of",
]
