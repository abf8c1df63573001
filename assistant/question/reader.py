"""The question, understood once per turn: `QuestionReader.read` makes a frozen `Question` that every later
stage reads instead of parsing the text again."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from index.bm25 import DEFAULT_LANGUAGE
from ingest.models import Catalogue

from ..models import Turn
from .followup import Resolved, asks_who, resolve
from .kind import KindModel, top_kind
from .language import LanguageDetector
from .names import Phrase, phrase_pattern
from .spelling import Speller
from .words import LANGUAGES, content_words, unit_phrase


@dataclass(frozen=True)
class Question:
    """One turn's question, as every stage sees it.

    Attributes:
        text: the user's message, control characters removed.
        query: the standalone question (a follow-up resolved from the conversation): what retrieval and
            routing see and what the answer shows as ``rewritten_query``.
        topic: the subject, kept for the next turn.
        prior: the conversation's directorate, a hint for routing a follow-up.
        is_followup: whether ``query`` was resolved from earlier turns.
        named: the units the query names by code, name or alias (1.0 each).
        asks_unit: whether it asks which unit handles something ("who ...", "which directorate ...").
        kinds: each kind's probability (`KindModel`), from the question's embedding; empty without a model.
        scope_text: the text the scope decision reads (the message, or the resolved follow-up).
        embed_text: the text to embed (a unit named by code or alias alone gets its full name).
        language: the question's language (ISO 639-1) when detected, else None.
        spelled: ``query`` with its misspelt words corrected against the index's vocabulary (`Speller`): what
            the keyword search reads; ``query`` itself when there is no speller.
    """

    text: str
    query: str
    topic: str
    prior: str | None
    is_followup: bool
    named: Mapping[str, float] = field(default_factory=dict)
    asks_unit: bool = False
    kinds: Mapping[str, float] = field(default_factory=dict)
    scope_text: str = ""
    embed_text: str = ""
    language: str | None = None
    spelled: str = ""

    def __post_init__(self) -> None:
        if not self.spelled:
            object.__setattr__(self, "spelled", self.query)

    @property
    def kind(self) -> str:
        """What it asks for: the likeliest of ``kinds`` (``description`` until the question is classified)."""
        return top_kind(self.kinds)


class QuestionReader:
    """Reads questions against one catalogue (its units' codes, names and aliases).

    Args:
        catalogue: the index's directorate catalogue.
        detector: tells the question's language (`Question.language` stays None without one).
        kinds: tells what a question asks for from its embedding (`classify`); without one every question
            is taken for a description, for the passages to settle.
        speller: corrects misspellings against the index's vocabulary (`Question.spelled`); none: no correction.
    """

    def __init__(self, catalogue: Catalogue, detector: LanguageDetector | None = None,
                 kinds: KindModel | None = None, speller: Speller | None = None) -> None:
        self.catalogue = catalogue
        self.detector = detector
        self.kinds = kinds
        self.speller = speller
        self._names: dict[str, list[Phrase]] = {}
        # The same patterns plus the code's, longest first: what `embedding_text` removes to see what else a
        # question asks about.
        self._mentions: dict[str, list[re.Pattern[str]]] = {}
        for d in catalogue.directorates:
            self._names[d.code] = [phrase_pattern(p) for p in (d.name, *d.aliases)]
            self._mentions[d.code] = [ph.pattern for ph in sorted((*self._names[d.code], phrase_pattern(d.code)),
                                                                  key=lambda ph: -len(ph.pattern.pattern))]
        # How a sentence in each language names each unit: what a pronoun for it becomes in a follow-up.
        self.unit_names = {lang: {d.code: unit_phrase(d, lang) for d in catalogue.directorates} for lang in LANGUAGES}
        self.names = self.unit_names["en"]

    def read(self, text: str, history: Sequence[Turn] = (), use_followups: bool = True) -> Question:
        """Understand one turn.

        Args:
            text: the user's message (already validated and cleaned).
            history: the conversation's earlier turns, oldest first.
            use_followups: resolve follow-ups (off: the naive baseline, the turns concatenated).
        """
        language = self.detector.detect(text) if self.detector is not None else None
        if use_followups:
            resolved = resolve(text, list(history), self.unit_names.get(language or "en", self.names), language,
                               about_unit=lambda turn: self._about_unit(turn, language))
        else:
            joined = " ".join([t.question for t in history] + [text])
            resolved = Resolved(joined, joined, None, bool(history))
        named = self.explicit(resolved.query)
        scope_text = resolved.query if resolved.is_followup else text
        spelled = self.spelled(resolved.query, language)
        return Question(
            text=text, query=resolved.query, topic=resolved.topic, prior=resolved.prior,
            is_followup=resolved.is_followup, named=named, asks_unit=asks_who(resolved.query, language),
            scope_text=scope_text, embed_text=self.embedding_text(spelled, named),
            language=language, spelled=spelled)

    def _about_unit(self, turn: Turn, language: str | None) -> bool:
        """Whether ``turn`` asked which unit handles something or named one (its standalone text), read in
        ``language``, the conversation's latest (a turn does not keep its own: German "Wie ..." asks how,
        Dutch "Wie ..." who)."""
        return asks_who(turn.rewritten, language) or bool(self.explicit(turn.rewritten))

    def spelled(self, text: str, language: str | None) -> str:
        """``text`` with its misspellings corrected in ``language`` (the keyword index's default language when
        None), or as it is without a speller."""
        return self.speller.correct(text, language or DEFAULT_LANGUAGE) if self.speller is not None else text

    def classify(self, question: Question, vector: np.ndarray | None) -> Question:
        """The question with what it asks for, from ``vector``, the embedding of its ``embed_text`` (the
        standalone question: a follow-up asks what its resolved text asks)."""
        if self.kinds is None or vector is None:
            return question
        return replace(question, kinds=self.kinds.probabilities(vector))

    def explicit(self, text: str) -> dict[str, float]:
        """1.0 for each unit named by code, name or alias."""
        found = {c: 1.0 for c in self.catalogue.codes_in(text)}
        lowered = text.lower()
        for code, pats in self._names.items():
            if any(p.search(text, lowered) for p in pats):
                found[code] = 1.0
        return found

    def embedding_text(self, text: str, named: Mapping[str, float] | None = None) -> str:
        """What to embed for a question: one about a unit itself, named by code or alias alone ("Tell me about
        CoorMulti", "What does M4 do?"), gets the unit's full name appended. The embedding model does not know
        in-house names: to it such a question is about an unknown word, and it reads like trivia.

        ``named``: `explicit` of the same text, when the caller has it already."""
        codes = self.explicit(text) if named is None else named
        if not codes:
            return text
        rest = " ".join(content_words(text))
        for code in codes:
            for pattern in self._mentions[code]:
                rest = pattern.sub(" ", rest)
        if re.search(r"[^\W_]", rest):
            return text  # the question asks about something besides the unit
        unnamed = [c for c in codes if self.catalogue.get(c).name.lower() not in text.lower()]
        if not unnamed:
            return text  # named in full already
        return f"{text} ({'; '.join(f'{self.catalogue.get(c).name} ({c})' for c in unnamed)})"
