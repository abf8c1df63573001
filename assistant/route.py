"""Directorate routing: combine explicit mentions, keywords, remit similarity and passage labels."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index import Embedder
from ingest.models import Catalogue, Chunk, Directorate

from .models import DirectorateMatch, Hit, Routing, RoutingSignals
from .question import Phrase, Question, is_acronym, phrase_pattern, stemmer

# The per-unit signals routing adds up: the columns of `unit_features`, the order of `RouterWeights.signal_weights`.
SIGNALS = ("explicit", "keyword", "similarity", "descriptors", "labels", "prior")


@dataclass(frozen=True)
class RouterWeights:
    """How much each signal counts. The six signal weights below are the defaults when no fit gives its own:
    `dgm-assistant tune` fits them per model on dev (eval/tune.py, a pairwise logistic regression)."""

    explicit: float = 3.0
    # One of a unit's own listed topics, found in the question, outweighs the top passages' labels and the
    # nearest descriptor together ("Is cybersecurity part of Belgium's foreign policy?" is M4's, however near
    # "Security Policy" reads); 2.5 was the smallest weight that gained on dev, for all three embedding kinds.
    keyword: float = 2.5
    # The whole remit profile, an average of many topics, counts for less than the nearest single topic
    # and the top passages' labels (searched on dev, checked on held-out halves of it).
    similarity: float = 0.5
    labels: float = 1.0
    descriptors: float = 1.0
    prior: float = 0.6
    similarity_temperature: float = 0.03
    descriptor_temperature: float = 0.03
    secondary_ratio: float = 0.55
    disagreement_penalty: float = 0.5
    # Platt scaling of the score margin into a confidence (fit on dev by `dgm-assistant tune`).
    calib_a: float = 2.0
    calib_b: float = -0.5
    # Below this calibrated confidence the answer says the unit is uncertain: the caveat and the number shown
    # are one decision. On dev (MiniLM, 279 routed answers, 8 routed wrong) 0.9 flags 6 answers, 3 of them
    # wrong: the best F1 of "caveat" against "routed wrong" among 0.8, 0.85, ..., 0.995.
    caveat_below: float = 0.9

    def signal_weights(self) -> np.ndarray:
        """The weights of `SIGNALS`, in that order."""
        return np.array([getattr(self, s) for s in SIGNALS], dtype=float)


_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# Verbs that say how a unit works, not what about: "who coordinates ..." must not name the keyword
# "coordination", nor "who trains ..." the keyword "training". Their plain, -s and -ed forms match only
# themselves ("organised crime"), not by stem (the -ing forms double as nouns: "staff training" still names
# the topic).
_HOW_VERBS = ("coordinate", "manage", "develop", "promote", "train", "plan", "support", "lead", "follow", "handle",
              "deal", "work", "cover", "protect", "defend", "monitor", "ensure", "advocate", "represent",
              "implement", "shape", "organise", "organize", "oversee", "negotiate", "fight", "help", "prepare")
_VERB_FORMS = frozenset(f for v in _HOW_VERBS for f in (v, v + "s", v + "es", v + "d", v + "ed", v[:-1] + "ed",
                                                         "planned", "fought", "led", "dealt"))


class _StemMatcher:
    """Finds keywords in a question by word stems, so an inflected form counts ("extremist groups" names the
    topic "extremists", "radicals" the topic "radicalisation"). English Snowball stems, the ones BM25 uses.

    Short all-caps acronyms are left to the case-sensitive patterns: stemmed and lower-cased, "IT" or "UN"
    would match ordinary words.
    """

    def __init__(self, keywords: dict[str, list[str]]) -> None:
        self._stemmer = stemmer("en")
        self._by_first: dict[str, list[tuple[tuple[str, ...], str, float]]] = {}
        for code, phrases in keywords.items():
            for phrase in phrases:
                stems = self.stems(phrase)
                if stems:
                    self._by_first.setdefault(stems[0], []).append((stems, code, _keyword_weight(phrase)))

    def stems(self, text: str) -> tuple[str, ...]:
        """The stems of the words of ``text``; a verb form of ``_HOW_VERBS`` stays itself (marked "=")."""
        tokens = [w.lower() for w in _TOKEN.findall(text)]
        return tuple(f"={t}" if t in _VERB_FORMS else s
                     for t, s in zip(tokens, self._stemmer.stemWords(tokens), strict=True))

    def matches(self, text: str) -> list[tuple[int, int, tuple[str, ...], str, float]]:
        """Each keyword found in ``text``: its first and past-the-end word positions, stems, owner and weight."""
        words = self.stems(text)
        return [(i, i + len(stems), stems, code, weight) for i, w in enumerate(words)
                for stems, code, weight in self._by_first.get(w, ()) if words[i:i + len(stems)] == stems]

    def scores(self, text: str, inside: Sequence[tuple[int, int]] = ()) -> dict[str, float]:
        """Per unit, the summed weight of its distinct keywords found in ``text`` (see `total`)."""
        return self.total(self.matches(text), inside)

    @staticmethod
    def total(found: Sequence[tuple[int, int, tuple[str, ...], str, float]],
              inside: Sequence[tuple[int, int]] = ()) -> dict[str, float]:
        """Per owner, the summed weight of its distinct keywords among ``found`` (what `matches` gives), except
        those lying within one of the word spans ``inside``."""
        distinct: dict[tuple[str, ...], tuple[str, float]] = {}
        for i, j, stems, code, weight in found:
            if not any(a <= i and j <= b for a, b in inside):
                distinct[stems + (code,)] = (code, weight)
        out: dict[str, float] = {}
        for code, weight in distinct.values():
            out[code] = out.get(code, 0.0) + weight
        return out


def _keyword_weight(phrase: str) -> float:
    # Longer phrases are more specific evidence than single words.
    return 1.0 + 0.5 * (len(phrase.split()) - 1)


def _saturate(x: float) -> float:
    return 1.0 - math.exp(-x)


def unit_features(signals: RoutingSignals, prior: str | None, codes: Sequence[str]) -> np.ndarray:
    """Each unit's evidence as one row of `SIGNALS` (explicit mention, saturated keyword weight, remit-profile
    and descriptor softmax, passage labels, the conversation's unit): routing scores a unit by the dot product
    of its row with the weights, and the tuning fits those weights on the same rows."""
    return np.array([[signals.explicit.get(c, 0.0), _saturate(signals.keywords.get(c, 0.0)),
                      signals.similarity.get(c, 0.0), signals.descriptors.get(c, 0.0), signals.labels.get(c, 0.0),
                      1.0 if c == prior else 0.0] for c in codes], dtype=float)


def speaks_for(chunk: Chunk, code: str, catalogue: Catalogue) -> bool:
    """Whether a passage names the unit ``code`` and so may answer "who" for it. Anywhere in it, not only
    first (the router's rule for a unit's remit passage): a page giving a topic to two units ("M3, with M0.1
    consulting the regions") answers for both; on the growth fixture the first-named rule ranked the
    answering passage lower (MRR 0.483 against 0.480 with MiniLM, 0.480 against 0.474 with e5)."""
    return code in catalogue.codes_in(chunk.text)


class Router:
    """Decides which DGM unit answers a question, with a confidence and the remit passage as evidence.

    Args:
        catalogue: the validated directorate catalogue and theme map.
        embedder: the model used to compare the question with each unit's remit profile.
        chunks: the index's chunks, to find each unit's remit passage.
        weights: signal weights and calibration.
        stored: the vectors of the catalogue's texts embedded at build time (`SearchIndex.vectors_of`);
            texts it does not hold are embedded here.
    """

    def __init__(self, catalogue: Catalogue, embedder: Embedder, chunks: Sequence[Chunk],
                 weights: RouterWeights | None = None,
                 stored: Callable[[list[str]], np.ndarray | None] | None = None) -> None:
        self.catalogue = catalogue
        self.weights = weights or RouterWeights()
        self.codes = catalogue.codes
        self._acronyms: dict[str, list[tuple[Phrase, float]]] = {}
        for d in catalogue.directorates:
            self._acronyms[d.code] = [(phrase_pattern(k), _keyword_weight(k)) for k in d.keywords
                                      if is_acronym(k)]
        self._stemmed = _StemMatcher({d.code: [k for k in dict.fromkeys(d.keywords) if not is_acronym(k)]
                                      for d in catalogue.directorates})
        # The themes that no unit holds have words of their own: "migration" names a topic of the pages too.
        self._theme_words = _StemMatcher({t.name: list(t.keywords) for t in catalogue.themes if t.keywords})

        def embedded(texts: list[str]) -> np.ndarray:
            vecs = stored(texts) if stored is not None else None
            return vecs if vecs is not None else embedder.encode(texts)

        self._profiles = embedded(catalogue.profile_texts())
        # Each name, alias and keyword embedded on its own: a plain-language question ("who stops attacks by
        # extremist groups?") sits close to one short topic ("extremists") even when no word matches it and
        # when the long remit profile, an average of many topics, is far from it.
        descriptors = catalogue.descriptors()
        owners, phrases = zip(*descriptors, strict=True) if descriptors else ((), ())
        self._descriptors = embedded(list(phrases)) if phrases else np.zeros((0, embedder.dim), dtype=np.float32)
        # Each unit's descriptors are contiguous (in catalogue order): np.maximum.reduceat takes their maxima.
        self._descriptor_starts = np.searchsorted(np.asarray(owners), np.arange(len(self.codes)))
        self.evidence: dict[str, Chunk] = {}
        for c in chunks:
            named = catalogue.codes_in(c.text)
            if named and named[0] not in self.evidence:
                self.evidence[named[0]] = c

    def directorate(self, code: str) -> Directorate:
        return self.catalogue.get(code)

    def keyword_scores(self, text: str, inside: Sequence[tuple[int, int]] = ()) -> dict[str, float]:
        """Per unit, the summed weight of its keywords in ``text``: acronyms exactly, other words by stem
        (except those within the word spans ``inside``)."""
        out = self._stemmed.scores(text, inside)
        lowered = text.lower()
        for code, pats in self._acronyms.items():
            s = sum(w for p, w in pats if p.search(text, lowered))
            if s:
                out[code] = out.get(code, 0.0) + s
        return out

    def label_scores(self, hits: Sequence[Hit], depth: int = 5) -> dict[str, float]:
        """Directorate labels of the top passages, weighted by rank and shared among a passage's labels."""
        out: dict[str, float] = {}
        for rank, h in enumerate(hits[:depth]):
            labels = h.chunk.directorates
            for code in labels:
                out[code] = out.get(code, 0.0) + 1.0 / (rank + 1) / len(labels)
        total = sum(out.values())
        return {c: v / total for c, v in out.items()} if total else {}

    def similarity(self, query_vec: np.ndarray) -> tuple[dict[str, float], float]:
        """A softmax over the units of the question's cosine to each remit profile, and the best cosine."""
        sims = self._profiles @ query_vec
        z = (sims - sims.max()) / self.weights.similarity_temperature
        p = np.exp(z) / np.exp(z).sum()
        return {c: float(x) for c, x in zip(self.codes, p, strict=True)}, float(sims.max())

    def descriptor_similarity(self, query_vec: np.ndarray) -> tuple[dict[str, float], float]:
        """A softmax over the units of the question's best cosine to one of their names, aliases or keywords,
        and that best cosine."""
        best = np.maximum.reduceat(self._descriptors @ query_vec, self._descriptor_starts)
        z = (best - best.max()) / self.weights.descriptor_temperature
        p = np.exp(z) / np.exp(z).sum()
        return {c: float(x) for c, x in zip(self.codes, p, strict=True)}, float(best.max())

    def _no_fit(self, hits: Sequence[Hit]) -> str | None:
        """If the best passage belongs to a theme that no DGM unit holds, say who does."""
        if not hits:
            return None
        for name in hits[0].chunk.themes:
            theme = self.catalogue.theme(name)
            if theme is not None and not theme.directorates and theme.outside_dgm:
                return f"{theme.name}: {theme.outside_dgm}"
        return None

    def _match(self, code: str, confidence: float) -> DirectorateMatch:
        d = self.directorate(code)
        ev = self.evidence.get(code)
        return DirectorateMatch(code=code, name=d.name, confidence=round(float(confidence), 3),
                                evidence_id=ev.id if ev else None, short_name=d.short_name,
                                shared_with=d.shared_with)

    def top_label(self, hits: Sequence[Hit]) -> Routing:
        """The naive baseline: the first label of the best labelled passage, with no other evidence."""
        for h in hits:
            if h.chunk.directorates:
                return Routing(primary=self._match(h.chunk.directorates[0], 0.5))
        return Routing(primary=None)

    def route(self, question: Question, query_vec: np.ndarray, hits: Sequence[Hit],
              restrict: str | None = None) -> Routing:
        """Route one question (its standalone ``query``, the units it names, the conversation's ``prior``).

        Args:
            question: the question, follow-ups already resolved.
            query_vec: the embedding of its ``embed_text``.
            hits: the retrieved passages, best first.
            restrict: a directorate the caller asked for; it is returned as the primary.
        """
        w = self.weights
        if not self.codes:  # a corpus with no structure page names no unit: answers are the passages alone
            return Routing(primary=None, secondary=None, disagreement=False, no_fit=None, signals=RoutingSignals(),
                           profile_max=0.0, descriptor_max=0.0, margin=0.0)
        text, prior = question.query, question.prior
        explicit = dict(question.named)
        if restrict is not None:
            explicit[restrict] = 1.0  # the caller named the directorate, as if the question had
        # A unit's keyword inside the name of a theme no unit holds is that theme's word, not the unit's:
        # "budget" (M0.0's) in "the Peace Building budget".
        theme_hits = self._theme_words.matches(text)
        themes = _StemMatcher.total(theme_hits)
        keywords = self.keyword_scores(text, inside=[(i, j) for i, j, *_ in theme_hits])
        labels = self.label_scores(hits)
        sim, profile_max = self.similarity(query_vec)
        desc, descriptor_max = self.descriptor_similarity(query_vec)
        signals = RoutingSignals(explicit=explicit, keywords=keywords, themes=themes, labels=labels,
                                 similarity={c: round(v, 4) for c, v in sim.items() if v >= 0.01},
                                 descriptors={c: round(v, 4) for c, v in desc.items() if v >= 0.01})
        # Scored from the signals as recorded (rounded, the smallest dropped), exactly what the tuning reads.
        score = dict(zip(self.codes, (unit_features(signals, prior, self.codes) @ w.signal_weights()).tolist(),
                         strict=True))
        ranked = sorted(self.codes, key=lambda c: -score[c])
        if restrict is not None:
            ranked.remove(restrict)
            ranked.insert(0, restrict)
        top, second = ranked[0], ranked[1]
        strong = bool(explicit or keywords)
        no_fit = None if strong else self._no_fit(hits)  # a restriction is an explicit mention
        # Each signal's own favourite; disagreement when the signals that have evidence point apart.
        favourites = {name: max(sig.items(), key=lambda kv: kv[1])[0] for name, sig in
                      (("explicit", explicit), ("keywords", keywords), ("labels", labels)) if sig}
        disagree = bool(set(favourites.values()) - {top})
        # The calibrated confidence reads the score margin; disagreeing signals count against it.
        margin = score[top] - score[second] - (w.disagreement_penalty if disagree else 0.0)
        conf = 1.0 / (1.0 + math.exp(-(w.calib_a * margin + w.calib_b)))
        if no_fit:
            return Routing(primary=None, secondary=None, disagreement=False, no_fit=no_fit, signals=signals,
                           profile_max=profile_max, descriptor_max=descriptor_max, margin=margin)
        secondary = None
        supported = second in explicit or second in keywords or labels.get(second, 0.0) >= 0.2
        if supported and score[second] >= w.secondary_ratio * score[top]:
            secondary = self._match(second, conf * score[second] / max(score[top], 1e-9))
        primary = self._match(top, conf)
        return Routing(primary=primary, secondary=secondary, disagreement=disagree,
                       uncertain=primary.confidence < w.caveat_below, no_fit=None, signals=signals,
                       profile_max=profile_max, descriptor_max=descriptor_max,
                       margin=margin)
