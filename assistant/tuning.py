"""Parameters fit on the dev split (``python -m eval.tune --write``), shipped as ``assistant/tuned.json``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .abstain import ScopeWeights
from .route import RouterWeights

TUNED_PATH = Path(__file__).with_name("tuned.json")


def load_tuned(path: Path = TUNED_PATH) -> tuple[ScopeWeights, RouterWeights]:
    """The fitted scope model and routing calibration; the code defaults when no file is there."""
    scope_w, router_w = ScopeWeights(), RouterWeights()
    if not path.is_file():
        return scope_w, router_w
    data = json.loads(path.read_text(encoding="utf-8"))
    if "scope" in data:
        scope_w = replace(scope_w, bias=float(data["scope"]["bias"]),
                          weights={k: float(v) for k, v in data["scope"]["weights"].items()})
    if "router" in data:
        router_w = replace(router_w, **{k: float(v) for k, v in data["router"].items()})
    return scope_w, router_w
