"""Pure scoring functions: phrase relevance, ranking metrics (via ranx), routing, calibration, latency."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

# Our names -> ranx metric names. hit@k looks at the first k citations in the order returned.
RANKING_METRICS: dict[str, str] = {
    "hit@1": "hit_rate@1",
    "hit@3": "hit_rate@3",
    "hit@5": "hit_rate@5",
    "mrr@10": "mrr@10",
    "ndcg@10": "ndcg@10",
}
NONE_LABEL = "none"  # the predicted label when no directorate was given (or the assistant abstained)
# A relevant document id that never appears in a run: a query whose answer holds no relevant passage
# still needs a qrels entry, or ranx would drop it instead of scoring it 0.
_NEVER_RETRIEVED = "__no_relevant_passage__"
# A placeholder for an answer without citations (ranx cannot build a run whose lists are all empty).
_NOTHING_RETURNED = "__nothing_returned__"


def normalize(text: str) -> str:
    """Case-folded text with every run of whitespace collapsed to one space."""
    return " ".join(text.split()).casefold()


def is_relevant(text: str, phrases: Iterable[str]) -> bool:
    """True when any expected phrase occurs in the passage (case-insensitive, whitespace collapsed)."""
    haystack = normalize(text)
    return any(normalize(p) in haystack for p in phrases if p.strip())


def ranking_scores(relevance: Mapping[str, Sequence[bool]]) -> dict[str, dict[str, float]]:
    """Score ranked lists of relevance flags with ranx.

    Args:
        relevance: query id -> one flag per returned passage, in rank order (True = relevant).
            An empty list (nothing returned) and a list without True both score 0.

    Returns:
        query id -> metric name (keys of `RANKING_METRICS`) -> score.
    """
    if not relevance:
        return {}
    from ranx import Qrels, Run, evaluate  # numba-compiled; imported only when scoring

    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for qid, flags in relevance.items():
        # Positional document ids keep the returned order (ranx sorts by score: higher = earlier)
        # and make a passage cited twice count twice, exactly as the reader sees it.
        docs = {f"rank{r}": float(len(flags) - r) for r in range(len(flags))} or {_NOTHING_RETURNED: 1.0}
        rel = {f"rank{r}": 1 for r, flag in enumerate(flags) if flag}
        qrels[qid] = rel or {_NEVER_RETRIEVED: 1}
        run[qid] = docs
    ranx_run = Run.from_dict(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 -> int64 cast notice inside ranx
        evaluate(Qrels.from_dict(qrels), ranx_run, list(RANKING_METRICS.values()), make_comparable=True)
    return {
        qid: {ours: float(ranx_run.scores[theirs].get(qid, 0.0)) for ours, theirs in RANKING_METRICS.items()}
        for qid in relevance
    }


def mean(values: Iterable[float | bool]) -> float | None:
    """Arithmetic mean, or None for no values (a figure that was not measured, not a zero)."""
    vals = [float(v) for v in values]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (numpy's linear interpolation), or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def directorate_correct(predicted: str | None, accepted: Sequence[str]) -> bool | None:
    """Whether the predicted primary code is accepted; None when routing is not scored (accepted == [])."""
    if not accepted:
        return None
    return predicted is not None and predicted in accepted


class ConfusionMatrix(BaseModel):
    """Counts of (expected, predicted) directorate codes; rows expected, columns predicted."""

    model_config = ConfigDict(frozen=True)

    labels: list[str]
    counts: list[list[int]]

    def count(self, expected: str, predicted: str) -> int:
        return self.counts[self.labels.index(expected)][self.labels.index(predicted)]


def confusion_matrix(pairs: Iterable[tuple[str, str | None]], codes: Sequence[str]) -> ConfusionMatrix:
    """Build a confusion matrix over `codes` plus "none"; codes outside the list are appended.

    Args:
        pairs: (expected code, predicted code or None) per scored item.
        codes: the known labels, in display order.
    """
    filled = [(e, p if p is not None else NONE_LABEL) for e, p in pairs]
    labels = list(codes)
    for e, p in filled:
        for label in (e, p):
            if label not in labels and label != NONE_LABEL:
                labels.append(label)
    labels.append(NONE_LABEL)
    counts = [[0] * len(labels) for _ in labels]
    for e, p in filled:
        counts[labels.index(e)][labels.index(p)] += 1
    return ConfusionMatrix(labels=labels, counts=counts)


class CalibrationBin(BaseModel):
    model_config = ConfigDict(frozen=True)

    lo: float
    hi: float
    n: int
    mean_confidence: float | None
    accuracy: float | None


class Calibration(BaseModel):
    """Reliability of the stated routing confidence: equal-width bins and the expected calibration error."""

    model_config = ConfigDict(frozen=True)

    n: int
    bins: list[CalibrationBin]
    ece: float | None


def calibration(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> Calibration:
    """Bucket confidences into `n_bins` equal-width bins over [0, 1] and compare with accuracy.

    ECE = sum over bins of (n_bin / n) * |accuracy_bin - mean_confidence_bin|.
    """
    if len(confidences) != len(correct):
        raise ValueError(f"confidences and correct differ in length: {len(confidences)} != {len(correct)}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    members: list[list[int]] = [[] for _ in range(n_bins)]
    for i, c in enumerate(confidences):
        c = min(max(float(c), 0.0), 1.0)
        members[min(int(c * n_bins), n_bins - 1)].append(i)
    bins: list[CalibrationBin] = []
    ece = 0.0
    for b, idx in enumerate(members):
        conf = mean(confidences[i] for i in idx)
        acc = mean(correct[i] for i in idx)
        bins.append(CalibrationBin(lo=b / n_bins, hi=(b + 1) / n_bins, n=len(idx),
                                   mean_confidence=conf, accuracy=acc))
        if conf is not None and acc is not None:
            ece += len(idx) / len(confidences) * abs(acc - conf)
    return Calibration(n=len(confidences), bins=bins, ece=ece if confidences else None)


def citation_scores(shown: Mapping[str, Sequence[tuple[str, int]]], labelled: Mapping[str, Sequence[tuple[str, int]]],
                    covered: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
    """Score the citations an answer shows against graded labels, with ranx.

    Args:
        shown: query id -> (passage id, grade) per citation shown, in order; grade 0 = not relevant.
        labelled: query id -> (quote id, grade) per labelled quote.
        covered: query id -> the quote ids that some shown citation covers.

    Returns:
        query id -> ``precision`` (share of the shown citations that are relevant; absent when nothing is
        shown) and ``recall`` (share of the labelled quotes a shown citation covers; 0 when nothing is shown,
        absent when the item is labelled with no quote).
    """
    if not labelled:
        return {}
    from ranx import Qrels, Run, evaluate

    def scored(ids: Sequence[str]) -> dict[str, float]:
        return {i: float(len(ids) - r) for r, i in enumerate(ids)} or {_NOTHING_RETURNED: 1.0}

    ids = [q for q in labelled if shown.get(q)]
    out: dict[str, dict[str, float]] = {q: {} for q in labelled}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 -> int64 cast notice inside ranx
        if ids:
            # Passage-level labels for what was shown: a citation is relevant with the grade of what it covers.
            qrels = {q: {p: g for p, g in shown[q] if g > 0} or {_NEVER_RETRIEVED: 1} for q in ids}
            run = Run.from_dict({q: scored([p for p, _ in shown[q]]) for q in ids})
            evaluate(Qrels.from_dict(qrels), run, ["precision"], make_comparable=True)
            for q in ids:
                out[q]["precision"] = float(run.scores["precision"].get(q, 0.0))
        # Quote-level labels for recall: each labelled quote once, found when a citation covers it.
        quoted = [q for q in labelled if labelled[q]]
        if quoted:
            qrels_q = {q: dict(labelled[q]) for q in quoted}
            run_q = Run.from_dict({q: scored(list(dict.fromkeys(covered.get(q, ())))) for q in quoted})
            evaluate(Qrels.from_dict(qrels_q), run_q, ["recall"], make_comparable=True)
            for q in quoted:
                out[q]["recall"] = float(run_q.scores["recall"].get(q, 0.0))
    return out
