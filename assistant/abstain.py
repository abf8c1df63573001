"""Is the question in scope? A logistic model over several signals, fit on eval/qa_dev.jsonl.

One score cannot decide (an in-scope question's best cosine can be lower than an off-topic one's), so the
decision combines: the best dense similarity to a passage and to a directorate's remit profile, the best
BM25 score of the question's topical words, whether the two retrievers agree, whether the question names
a directorate, one of its topics or a theme of the pages that no directorate holds, and the question type:
small talk, consular services, another country's policy, a request for a specific figure or person, or a
fact of another kind (history, an event's outcome, a ranking), which the FPS pages never give.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ingest.label import codes_in

from .conversation import REMIT_VERBS
from .models import Routing
from .retrieve import Retrieval

# Question types that the DGM pages do not answer, whatever words they share with them.
_SMALL_TALK = re.compile(
    r"^\s*(?:hi|hello|hey|good\s+(?:morning|afternoon|evening|night)|thanks?(?:\s+you)?|bye|goodbye)\b[\s!.,?]*"
    r"(?:how\s+are\s+you)?[\s!.,?]*$|\bhow\s+are\s+you\b|\btell\s+me\s+a\s+joke\b|\bwho\s+are\s+you\b"
    r"|\bwhat(?:'s|\s+is)\s+the\s+weather\b|\bweather\b|\brecipe\b|\bfootball\b|\bscore\s+of\b|\bpoem\b"
    r"|^\s*(?:thanks?|thank\s+you|ok(?:ay)?|great|perfect|cool)\b[^?]*$"
    r"|\b(?:write|compose|draft)\s+(?:me\s+)?(?:an?\s+|my\s+)?(?:essay|poem|story|letter|song|speech|tweet|cv|"
    r"resume|résumé|cover\s+letter|application)\b|\bhelp\s+me\s+(?:write|draft|prepare)\b",
    re.IGNORECASE)
_CONSULAR = re.compile(
    r"\b(?:passports?|visas?|schengen|consular|consulates?|embass(?:y|ies)|apostille|legali[sz]ation|legali[sz]e|"
    r"birth\s+certificate|marriage\s+certificate|identity\s+card|id\s+card|travel\s+advice|opening\s+hours|"
    r"residence\s+permit|work\s+permit|nationality\s+application|citizenship|repatriat\w*|stolen|lost\s+my|"
    r"safe\s+to\s+travel|travel\s+to\s+\w+\s+(?:now|safely)|diploma)\b",
    re.IGNORECASE)
_COUNTRIES = (r"France|Germany|the\s+Netherlands|Netherlands|Luxembourg|Italy|Spain|Poland|Sweden|Norway|Denmark|"
              r"Finland|Austria|Portugal|Greece|Ireland|the\s+UK|United\s+Kingdom|Britain|the\s+United\s+States|"
              r"United\s+States|the\s+US|USA|China|Russia|Japan|India|Brazil|Canada|Turkey|Ukraine|Israel|Iran|"
              r"Saudi\s+Arabia|South\s+Africa|Australia|Mexico|Hungary")
# A country other than Belgium as the subject of a view, vote, rule or policy.
_OTHER_SUBJECT = re.compile(
    rf"\b(?i:how\s+(?:does|did|do|is)|what\s+(?:does|did|do)|why\s+(?:does|did))\s+(?:{_COUNTRIES})(?:'s)?"
    r"(?:\s+(?:government|authorities|minister|parliament))?\s+(?:\w+\s+)?(?:think|vote|voted|regulate|regulates|"
    r"approach|handle|handles|view|see|say|position|plan|treat|deal)\b"
    rf"|\b(?:{_COUNTRIES})(?:'s)\s+(?:\w+\s+)?(?:doctrine|position|policy|policies|stance|view|views|strategy|"
    r"law|laws|vote|government)\b")
_OTHER_COUNTRY = re.compile(
    r"\b(?:France|French|Germany|German|the\s+Netherlands|Dutch|Luxembourg|Italy|Italian|Spain|Spanish|Poland|"
    r"Sweden|Norway|Denmark|Finland|Austria|Portugal|Greece|Ireland|the\s+UK|United\s+Kingdom|Britain|British|"
    r"United\s+States|the\s+US|USA|American|China|Chinese|Russia|Russian|Japan|Japanese|India|Brazil|Canada|"
    r"Turkey|Ukraine)(?:'s)?\s+(?:foreign\s+)?(?:position|policy|policies|stance|view|government|ministers?|"
    r"ministry|ministries|authorities|parliament|diplomacy|diplomats|approach|strategy)\b"
    r"|\b(?:position|policy|policies|stance|view|approach|strategy)\s+of\s+(?:France|Germany|the\s+Netherlands|"
    r"Italy|Spain|the\s+UK|the\s+United\s+Kingdom|the\s+United\s+States|the\s+US|China|Russia|Japan|India)\b")
# Domestic and everyday matters that no foreign-policy page covers.
_DOMESTIC = re.compile(
    r"\b(?:pensions?|tax(?:es)?|vat|unemployment|health\s+insurance|driving\s+licen[cs]e|parking|exchange\s+rate|"
    r"stock\s+market|parliament\s+votes?\s+a\s+law|federal\s+parliament|restaurants?|"
    r"(?:electricity|gas|energy|fuel|petrol)\s+(?:bills?|prices?|suppliers?|tariffs?)|price\s+of\s+(?:electricity|gas|"
    r"fuel|petrol))\b",
    re.IGNORECASE)
# A specific figure, date, person or piece of news: the pages describe remits; they give no names, no
# contact details, no news, and figures only where a passage holds a number (checked in scope_features).
_FIGURE = re.compile(
    r"\bhow\s+(?:much|many)\b|\bwhat\s+(?:is|was)\s+the\s+(?:amount|number|total|salary)\b"
    r"|\b(?:budget|spend|spending|pay|paid|cost)s?\b.*\b(?:for|in)\s+(?:19|20)\d\d\b|\b(?:19|20)\d\d\b.*\bbudget\b"
    r"|\bwhat(?:'s|\s+is)\s+the\s+\w+'s\s+budget\b|\b20[1-3]\d\b",
    re.IGNORECASE)
_SPECIFIC = re.compile(
    r"\bwhen\s+(?:did|was|will)\b|\bwho\s+(?:is|was|are|were)\s+(?:the\s+|belgium's\s+)?"
    r"(?:current\s+|first\s+|last\s+|new\s+|next\s+)?(?:[\w'-]+\s+){0,3}?(?:ministers?|ambassadors?|permanent\s+"
    r"representative|director|head|chief|spokesperson|president|secretary[\s-]general|king|queen|prime\s+minister|"
    r"commissioner|chair(?:man|woman|person)?)\b"
    r"|\bname\s+of\s+the\s+(?:head|director|minister|ambassador)\b|'s\s+name\b|\baddress\s+(?:of|for)\b"
    r"|\bphone\s+number\b|\bemail\s+address\b|\bcontact\s+person\b",
    re.IGNORECASE)
# News and the moment: "the latest news on the ceasefire", "what did the minister say last week". Such words in a
# question about who handles a topic, or about a named unit, ask about the remit as it stands ("Who handles UN
# sanctions right now?", "What does M4 do today?"), which the pages give; and "fake news" is disinformation, a
# topic of M1's, not a piece of news.
_TIMELY = re.compile(
    r"\b(?:latest|yesterday|today|tomorrow|this\s+(?:week|month|year)|last\s+(?:week|month|year)|"
    r"currently|right\s+now)\b|(?<!fake\s)\bnews\b",
    re.IGNORECASE)
# A question about who handles a topic (not about a person: "Who chairs the Human Rights Council this year?").
_REMIT = re.compile(
    r"\bwhich\s+(?:[\w-]+\s+)?(?:directorates?|services?|units?|departments?|teams?|offices?)\b"
    rf"|\bwho\s+(?:[\w'-]+\s+){{0,4}}?(?:{REMIT_VERBS}|works\s+on)\b",
    re.IGNORECASE)
# Facts of another kind: who founded or won something, the outcome of an event, a ranking, a list of
# companies, ministers or organisations, statistics about a country. The pages describe remits and policy
# themes; they hold none of these.
_SUPERLATIVE = r"(?:largest|biggest|smallest|richest|poorest|strongest|most\s+powerful|most\s+populous)"
_FACTOID = re.compile(
    r"\bwho\s+(?:founded|created|invented|won|wrote|signed|started|established|built|discovered)\b"
    r"|\bhistory\s+of\b|\b(?:outcome|results?|winner|conclusions?)\s+of\s+(?:the\s+)?(?:last|latest|recent|\d{4})\b"
    r"|\b(?:last|latest|recent|upcoming|next)\s+(?:\w+\s+)?(?:summit|meeting|session|elections?|conference|vote|"
    r"visit|speech)\b"
    rf"|\b{_SUPERLATIVE}\b[^?.]*\bin\s+the\s+world\b"
    rf"|\b{_SUPERLATIVE}\s+(?:arm(?:y|ies)|countr(?:y|ies)|cit(?:y|ies)|econom(?:y|ies)|compan(?:y|ies)|militar(?:y|ies))\b"
    r"|\bwhich\s+(?:\w+\s+)?(?:minister|ministers|ambassadors?|politicians?|companies|company|firms?|ngos?|banks?|"
    r"people|persons?|countries|states|cities|airlines|universities|suppliers?|providers?|brands?|shops?|stores?|"
    r"restaurants?|hotels?)\b"
    r"|\bwhat\s+(?:happened|was\s+decided)\b|\bwhat(?:'s|\s+is|\s+are)\s+the\s+best\b"
    r"|\bpopulation\s+of\b|\bgdp\b",
    re.IGNORECASE)
# A request about the asker's own affairs ("how do I ...", "can I ...", "my company"): a personal service, which
# no policy page gives. Asking where to find or read something is not one.
_PERSONAL = re.compile(
    r"\b(?:how\s+(?:do|can|should|would)\s+I|can\s+I|could\s+I|do\s+I\s+need|should\s+I|what\s+should\s+I\s+do|"
    r"where\s+(?:can|do|should|could)\s+I)\s+(?!find\b|read\b|learn\b|see\b|look\b)"
    r"|\bmy\s+(?!question\b)\w+|\b(?:help|book|give|send|get)\s+me\b(?!\s+(?:about|more|information|an?\s+overview))",
    re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d")  # a number, not the digit of a code such as M2 or M0.1
# Function words of Belgium's other languages: the English embedding model cannot judge such questions,
# so for them a named directorate or topic counts for more.
_FOREIGN = frozenset("""le la les des du une est qui quelle quel quels dans pour avec sur aux où
het een welke wie van voor zijn niet ook bij naar wat hoe met zich houdt bezig
der die das und wer welche welcher ist für mit nicht auch wie sich""".split())


def is_foreign(question: str) -> bool:
    words = re.findall(r"[\wäöüéèàç']+", question.lower())
    return sum(w in _FOREIGN for w in words) >= 2


def question_type(question: str) -> str:
    """``small_talk``, ``consular``, ``domestic``, ``personal``, ``other_country``, ``factoid``, ``specific``,
    ``figure`` or ``policy``."""
    if _OTHER_SUBJECT.search(question) and not re.search(r"\bBelgi", question):
        return "other_country"
    for name, pat in (("small_talk", _SMALL_TALK), ("consular", _CONSULAR), ("domestic", _DOMESTIC),
                      ("personal", _PERSONAL),
                      ("other_country", _OTHER_COUNTRY), ("factoid", _FACTOID),
                      ("specific", _SPECIFIC)):
        if pat.search(question):
            return name
    if _TIMELY.search(question) and not (_REMIT.search(question) or codes_in(question)):
        return "specific"  # before "figure": "How much did Belgium pay last year?" asks about an event
    return "figure" if _FIGURE.search(question) else "policy"


FEATURES = ("dense_max", "profile_max", "descriptor_max", "bm25", "agree", "named", "off_type", "personal",
            "specific", "foreign_named", "question_model")


QUESTION_LOGIT_CAP = 8.0


@dataclass(frozen=True)
class ScopeWeights:
    """Logistic weights over ``FEATURES`` (fit on the dev split by ``python -m eval.tune``)."""

    bias: float = -6.0
    weights: dict[str, float] = field(default_factory=lambda: {
        "dense_max": 8.0, "profile_max": 8.0, "descriptor_max": 0.0, "bm25": 0.6, "agree": 0.8, "named": 3.0,
        "off_type": -8.0, "personal": -8.0, "specific": -4.0, "foreign_named": 2.0, "question_model": 0.0})
    bm25_cap: float = 6.0
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


def scope_features(question: str, retrieval: Retrieval, routing: Routing | None, bm25_cap: float = 6.0,
                   question_model: float = 0.0) -> dict:
    """The features of ``FEATURES`` (plus ``_type``, the question type); ``question_model`` is
    `ScopeWeights.question_model` of the question's vector, computed by the caller."""
    qtype = question_type(question)
    top_d = {i for i, _ in retrieval.dense[:3]}
    top_b = {i for i, _ in retrieval.bm25[:3]}
    named = bool(routing is not None and (routing.signals.get("explicit") or routing.signals.get("keywords")
                                          or routing.signals.get("themes")))
    return {
        "dense_max": retrieval.dense[0][1] if retrieval.dense else 0.0,
        "profile_max": routing.profile_max if routing is not None else 0.0,
        "descriptor_max": routing.descriptor_max if routing is not None else 0.0,
        "bm25": min(retrieval.bm25[0][1], bm25_cap) if retrieval.bm25 else 0.0,
        "agree": 1.0 if top_d & top_b else 0.0,
        "named": 1.0 if named else 0.0,
        "off_type": 1.0 if qtype in ("small_talk", "consular", "domestic", "other_country") else 0.0,
        "personal": 1.0 if qtype == "personal" else 0.0,
        # A request for a figure is answerable only if a top passage holds a number.
        "specific": 1.0 if qtype in ("specific", "factoid") or (
            qtype == "figure" and not any(_NUMBER.search(h.chunk.text) for h in retrieval.hits[:3])) else 0.0,
        "foreign_named": 1.0 if named and is_foreign(question) else 0.0,
        "question_model": question_model,
        "_type": qtype,
    }


def scope(question: str, retrieval: Retrieval, routing: Routing | None,
          weights: ScopeWeights | None = None, query_vec: np.ndarray | None = None) -> ScopeDecision:
    """The probability that the corpus answers ``question``, from several signals.

    ``query_vec``: the embedding of the (resolved) question, for the question model.
    """
    w = weights or ScopeWeights()
    feats = scope_features(question, retrieval, routing, w.bm25_cap, w.question_model(query_vec))
    qtype = feats.pop("_type")
    z = w.bias + sum(w.weights.get(k, 0.0) * feats[k] for k in FEATURES)
    p = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
    return ScopeDecision(probability=p, features={k: round(v, 4) for k, v in feats.items()}, question_type=qtype)
