"""Is the question in scope? A logistic model over several signals, fit on eval/qa_dev.jsonl.

One score cannot decide (an in-scope question's best cosine can be lower than an off-topic one's), so the
decision combines: the best dense similarity to a passage and to a directorate's remit profile, the best
BM25 score of the question's topical words, whether the two retrievers agree, whether the question names
a directorate, one of its topics or a theme of the pages that no directorate holds, and what the question asks
for (`assistant.question.kind`): small talk, another country's view or a trivia fact; a service for the asker;
a person; a date or a number, weighed by whether the retrieved passages hold one. A request for a service, and
the question model's verdict against such a request, count only as far as the best passages' pages do not
offer a service (a consular page does).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .models import Routing
from .question import FACT_KINDS, OFF_TOPIC_KINDS, SERVICE_KIND, Question, is_foreign
from .retrieve import Retrieval

_NUMBER = re.compile(r"(?<![\w.])\d")  # a number, not the digit of a code such as M2 or M0.1
_YEAR = re.compile(r"(?<![\w.])(?:1[5-9]|2[01])\d\d(?![\w.])")  # a year: what a date holds in any language
_HOLDS = {"date": _YEAR, "number": _NUMBER}


FEATURES = ("dense_max", "profile_max", "descriptor_max", "bm25", "agree", "named", "off_kind", "service",
            "person", "fact_missing", "foreign_named", "question_model")


QUESTION_LOGIT_CAP = 8.0
# How many of the best passages are asked whether they hold the date or number, or offer the service, asked for
# (and whether the two retrievers agree).
EVIDENCE_DEPTH = 3


@dataclass(frozen=True)
class ScopeWeights:
    """Logistic weights over ``FEATURES`` (fit on the dev split by ``python -m eval.tune``)."""

    bias: float = -6.0
    weights: dict[str, float] = field(default_factory=lambda: {
        "dense_max": 8.0, "profile_max": 8.0, "descriptor_max": 0.0, "bm25": 0.6, "agree": 0.8, "named": 3.0,
        "off_kind": -8.0, "service": -8.0, "person": -4.0, "fact_missing": -4.0, "foreign_named": 2.0,
        "question_model": 0.0})
    bm25_cap: float = 6.0
    # The in-scope probability below which the assistant abstains, chosen on dev by `tune` (the setting
    # DGM_ABSTAIN_THRESHOLD overrides it).
    threshold: float = 0.5
    # A linear model over the question's embedding: how much it reads like the in-scope questions of dev
    # rather than the off-topic ones. It learns the *kind* of question (a personal errand, a trivia fact, a
    # news item, a policy or remit question) from examples, where the patterns above only list phrasings.
    question_bias: float = 0.0
    question_weights: tuple[float, ...] = ()

    def question_model(self, query_vec: np.ndarray | None) -> float:
        """The embedding model's in-scope log-odds, within +-QUESTION_LOGIT_CAP; 0 (no opinion) without a fit
        or a vector. Log-odds rather than a probability, so the scope model can weigh a confident verdict."""
        if query_vec is None or len(self._question_vector) != len(query_vec):
            return 0.0
        z = self.question_bias + float(np.dot(self._question_vector, query_vec))
        return max(min(z, QUESTION_LOGIT_CAP), -QUESTION_LOGIT_CAP)

    @cached_property
    def _question_vector(self) -> np.ndarray:
        """``question_weights`` as an array, made once rather than on every question."""
        return np.asarray(self.question_weights, dtype=np.float32)


@dataclass(frozen=True)
class ScopeDecision:
    probability: float
    features: dict[str, float]
    question_type: str


def scope_features(question: Question, retrieval: Retrieval, routing: Routing | None, bm25_cap: float = 6.0,
                   question_model: float = 0.0, offered: float = 0.0) -> dict[str, float]:
    """The features of ``FEATURES``; ``question_model`` is `ScopeWeights.question_model` of the question's
    vector, and ``offered`` how much the best passages' pages offer a service (`Engine.offered`), both computed
    by the caller."""
    kinds = question.kinds
    served = kinds.get(SERVICE_KIND, 0.0) * offered  # a request for a service that the best pages offer
    top_d = {i for i, _ in retrieval.dense[:EVIDENCE_DEPTH]}
    top_b = {i for i, _ in retrieval.bm25[:EVIDENCE_DEPTH]}
    named = bool(routing is not None and (routing.signals.explicit or routing.signals.keywords
                                          or routing.signals.themes))
    return {
        "dense_max": retrieval.dense[0][1] if retrieval.dense else 0.0,
        "profile_max": routing.profile_max if routing is not None else 0.0,
        "descriptor_max": routing.descriptor_max if routing is not None else 0.0,
        "bm25": min(retrieval.bm25[0][1], bm25_cap) if retrieval.bm25 else 0.0,
        "agree": 1.0 if top_d & top_b else 0.0,
        "named": 1.0 if named else 0.0,
        "off_kind": sum(kinds.get(k, 0.0) for k in OFF_TOPIC_KINDS),
        # A request for a service is answerable where a best passage's page offers one (a consular page):
        # the pages of the seeds offer none, so there it is the request itself.
        "service": kinds.get(SERVICE_KIND, 0.0) * (1.0 - offered),
        "person": kinds.get("person", 0.0),
        # A question asking for a date or a number is answerable only if a top passage holds one.
        "fact_missing": sum(kinds.get(k, 0.0) for k in FACT_KINDS
                            if not any(_HOLDS[k].search(h.chunk.text) for h in retrieval.hits[:EVIDENCE_DEPTH])),
        "foreign_named": 1.0 if named and is_foreign(question.scope_text) else 0.0,
        "question_model": counted_verdict(question_model, served),
        "served": served,  # not weighed: what the verdict above was read against (the tuning reads it)
    }


def counted_verdict(question_model: float, served: float) -> float:
    """The question model's log-odds as the scope model counts them. It learned from dev that errands are
    off-topic, where no page offers a service: its verdict against a question counts only as far as the
    question is not a request for a service that the best passages' pages offer; a verdict for the question
    counts whole. A question about trains or bicycles is no request for a service, and stays read as off-topic
    next to a consular page.

    Args:
        question_model: the question model's in-scope log-odds (`ScopeWeights.question_model`).
        served: the question's probability of asking for a service times what the pages offer
            (`Engine.offered`), the feature "served" of `scope_features`.

    Returns:
        The log-odds the scope model weighs as its feature "question_model".
    """
    return question_model * (1.0 - served) if question_model < 0 else question_model


def scope(question: Question, retrieval: Retrieval, routing: Routing | None,
          weights: ScopeWeights | None = None, query_vec: np.ndarray | None = None,
          offered: float = 0.0) -> ScopeDecision:
    """The probability that the corpus answers ``question``, from several signals.

    ``query_vec``: the embedding of the (resolved) question, for the question model; ``offered``: how much the
    best passages' pages offer a service (`Engine.offered`).
    """
    w = weights or ScopeWeights()
    feats = scope_features(question, retrieval, routing, w.bm25_cap, w.question_model(query_vec), offered)
    qtype = question.kind
    z = w.bias + sum(w.weights.get(k, 0.0) * feats[k] for k in FEATURES)
    p = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
    return ScopeDecision(probability=p, features={k: round(v, 4) for k, v in feats.items()}, question_type=qtype)
