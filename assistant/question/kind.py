"""What a question asks for: a unit, a description, a date, a number, a person, a service, small talk, another
country's view, a trivia fact. A classifier over the question's embedding tells it, in any language the
embedding model reads; it is fit by `dgm-assistant tune` on the labelled questions of ``eval/kinds/`` (written
by the team in four languages, not taken from the Q&A) and shipped in the model's fit.

The kind is one signal of the scope decision, which weighs it with what the passages hold: a question asking
for a date is answerable where a retrieved passage gives one and not where none does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# The kinds of the labelled set, with what the scope decision reads of them.
KINDS = ("unit", "description", "date", "number", "person", "service", "small_talk", "other_country", "trivia")
DEFAULT_KIND = "description"  # without a classifier: a question about policy, for the passages to settle
OFF_TOPIC_KINDS = ("small_talk", "other_country", "trivia")  # never what the FPS's own pages are about
FACT_KINDS = ("date", "number")  # answerable only where a retrieved passage holds one
SERVICE_KIND = "service"  # answerable only where a retrieved passage's page offers one


@dataclass(frozen=True)
class KindModel:
    """A multinomial logistic regression over a question's embedding.

    Attributes:
        labels: the kinds, in the order of the rows of ``weights``.
        bias: one intercept per kind.
        weights: one row of ``dim`` weights per kind.
    """

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        unknown = set(self.labels) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown question kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        if not (len(self.labels) == len(self.bias) == len(self.weights)) or len({len(w) for w in self.weights}) > 1:
            raise ValueError("a kind model needs one bias and one row of weights of the same length per kind")

    @property
    def dim(self) -> int:
        return len(self.weights[0]) if self.weights else 0

    @cached_property
    def _matrix(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.weights, dtype=np.float32), np.asarray(self.bias, dtype=np.float32)

    def probabilities(self, vector: np.ndarray | None) -> dict[str, float]:
        """Each kind's probability for one embedded question; empty without a vector of the model's size."""
        if vector is None or len(vector) != self.dim:
            return {}
        w, b = self._matrix
        z = w @ np.asarray(vector, dtype=np.float32) + b
        p = np.exp(z - z.max())
        p /= p.sum()
        return {k: float(v) for k, v in zip(self.labels, p, strict=True)}

    @classmethod
    def from_arrays(cls, labels: Sequence[str], bias: Sequence[float], weights: Sequence[Sequence[float]]) -> KindModel:
        return cls(tuple(labels), tuple(float(b) for b in bias), tuple(tuple(float(v) for v in row) for row in weights))


def top_kind(probabilities: Mapping[str, float]) -> str:
    """The likeliest kind (`DEFAULT_KIND` when there is no opinion)."""
    return max(probabilities, key=lambda k: probabilities[k]) if probabilities else DEFAULT_KIND
