"""The web team's report over the question records: counts per day, language and unit, the share of
follow-ups, the declined questions grouped into topics, and the answers visitors disliked.

Topics are clusters of the declined questions' embeddings (the engine's own embedder, on the masked text):
k-means on the unit vectors with the number of clusters chosen by the silhouette score (scikit-learn),
each topic shown with its size, a few example questions (those nearest its centre) and the passage of the
pages nearest its centre: the page to extend, or the place a new page belongs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from ..privacy import Masker


@dataclass(frozen=True)
class Nearest:
    """A passage of the pages: where a topic's questions come closest."""

    title: str
    section: str | None
    source: str | None
    text: str
    score: float


@dataclass(frozen=True)
class Topic:
    size: int
    examples: tuple[str, ...]
    nearest: Nearest | None


@dataclass(frozen=True)
class Disliked:
    ts: str
    question: str
    answer: str
    comment: str | None


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    since: datetime | None
    total: int
    answered: int
    declined: int
    per_day: tuple[tuple[date, int], ...]
    per_language: tuple[tuple[str, int], ...]
    per_unit: tuple[tuple[str, int], ...]
    reasons: tuple[tuple[str, int], ...]
    followups: int
    ratings: tuple[tuple[str, int], ...]
    topics: tuple[Topic, ...]
    disliked: tuple[Disliked, ...]
    clustered: bool  # False when no embedder was at hand (topics then empty)

    @property
    def followup_share(self) -> float:
        return self.followups / self.total if self.total else 0.0


# The silhouette compares every pair of vectors: over this many it is estimated on a fixed sample, so a report over
# months of declined questions stays seconds, not minutes.
SILHOUETTE_SAMPLE = 2000


def choose_clusters(vectors: np.ndarray, max_clusters: int, seed: int = 0) -> np.ndarray:
    """Cluster labels of ``vectors`` (rows): k-means with k in 2..max_clusters chosen by the silhouette
    (estimated on `SILHOUETTE_SAMPLE` of them when there are more).

    Fewer than four vectors, or vectors that do not separate (every silhouette at or below 0), make one
    cluster.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    if n < 4 or max_clusters < 2:
        return np.zeros(n, dtype=int)
    best_labels, best_score = np.zeros(n, dtype=int), 0.0
    for k in range(2, min(max_clusters, n - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(vectors, labels, metric="cosine", random_state=seed,
                                       sample_size=min(n, SILHOUETTE_SAMPLE)))
        if score > best_score:
            best_labels, best_score = labels, score
    return best_labels


def topics_of(questions: Sequence[str], vectors: np.ndarray, max_clusters: int, examples: int,
              nearest: Callable[[np.ndarray], Nearest | None] | None = None) -> list[Topic]:
    """The topics of ``questions`` (one vector per question, unit length), largest first."""
    if not len(questions):
        return []
    labels = choose_clusters(vectors, max_clusters)
    topics = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        centre = centre / (np.linalg.norm(centre) or 1.0)
        order = members[np.argsort(-(vectors[members] @ centre))]
        picked: list[str] = []
        for i in order:  # the questions nearest the centre, each text once
            if questions[i] not in picked:
                picked.append(questions[i])
            if len(picked) == examples:
                break
        topics.append(Topic(size=len(members), examples=tuple(picked),
                            nearest=nearest(centre) if nearest is not None else None))
    return sorted(topics, key=lambda t: -t.size)


def _counts(values: list[Any], empty: str) -> tuple[tuple[str, int], ...]:
    return tuple(Counter(empty if v is None else str(v) for v in values).most_common())


def build_report(rows: list[dict[str, Any]], disliked: list[dict[str, Any]], masker: Masker, *,
                 embed: Callable[[list[str]], np.ndarray] | None = None,
                 nearest: Callable[[np.ndarray], Nearest | None] | None = None, max_clusters: int = 8,
                 examples: int = 3, since: datetime | None = None) -> Report:
    """The report of the question records ``rows`` and the thumbs-down feedback ``disliked``.

    Args:
        embed: the engine's embedder over a list of texts (unit vectors); no topics without one.
        nearest: the passage nearest a vector (the index's own search).
        max_clusters: the most topics shown.
        examples: example questions per topic.
    """
    days = Counter(r["ts"].date() for r in rows)
    declined = [r for r in rows if r["decision"] == "declined"]
    topics: list[Topic] = []
    if embed is not None and declined:
        texts = [r["question"] for r in declined]
        topics = topics_of(texts, np.asarray(embed(texts), dtype=np.float32), max_clusters, examples, nearest)
    # Feedback written before masking came in (or imported) is masked on its way out as well.
    dislikes = tuple(Disliked(ts=str(d["ts"])[:19].replace("T", " "), question=masker.mask(d["question"]) or "",
                              answer=masker.mask(d["answer"]) or "", comment=masker.mask(d["comment"]))
                     for d in disliked)
    return Report(
        generated_at=datetime.now(UTC), since=since, total=len(rows), answered=len(rows) - len(declined),
        declined=len(declined), per_day=tuple(sorted(days.items())),
        per_language=_counts([r["language"] for r in rows], "unknown"),
        per_unit=_counts([r["unit"] for r in rows if r["decision"] == "answered"], "none"),
        reasons=_counts([r["reason"] for r in declined], "unknown"),
        followups=sum(1 for r in rows if r["followup"]),
        ratings=_counts([r["rating"] for r in rows if r["rating"]], "none"),
        topics=tuple(topics), disliked=dislikes, clustered=embed is not None)
