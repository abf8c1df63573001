"""Fit the abstention model and the routing-confidence calibration on the DEV split (never on test).

    python -m eval.tune [--qa eval/qa_dev.jsonl] [--write]

Prints the fitted parameters; ``--write`` stores them in ``assistant/tuned.json`` under the embedding
model's name (DGM_EMBEDDING_MODEL / DGM_EMBEDDING_BACKEND pick it), which the assistant loads at start-up.
The logistic regressions are small (a handful of features, ~100 items), fit by Newton's method with an L2
penalty so no feature weight runs away on separable data.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.factory import load_assistant
from assistant.pipeline import AskOptions
from assistant.scope import FEATURES, QUESTION_LOGIT_CAP
from assistant.tuning import TUNED_PATH, write_tuned

TUNED = TUNED_PATH
QUESTION_L2_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
TRACE_DEPTH = 10  # passages retrieved per dev question, as the evaluation asks for


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50,
                 balanced: bool = False) -> np.ndarray:
    """Weights (bias first) of an L2-penalised logistic regression, by Newton's method.

    ``balanced`` weighs each class by the inverse of its share, so the rare class (out-of-scope
    questions) counts as much as the common one.
    """
    X = np.hstack([np.ones((len(x), 1)), x])
    sw = np.ones(len(y))
    if balanced and 0 < y.sum() < len(y):
        sw = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    w = np.zeros(X.shape[1])
    reg = l2 * np.eye(X.shape[1])
    reg[0, 0] = 0.0  # the bias is not penalised
    for _ in range(iters):
        p = _sigmoid(X @ w)
        grad = X.T @ (sw * (p - y)) + reg @ w
        hess = X.T @ (X * (sw * p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _folds(y: np.ndarray, k: int, seed: int = 0) -> list[np.ndarray]:
    """``k`` stratified folds of the item indices (a fixed shuffle, so a refit is reproducible)."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for label in (0.0, 1.0):
        idx = rng.permutation(np.flatnonzero(y == label))
        for j, i in enumerate(idx):
            folds[j % k].append(int(i))
    return [np.array(sorted(f), dtype=int) for f in folds]


def _out_of_fold(x: np.ndarray, y: np.ndarray, l2: float, folds: list[np.ndarray]) -> np.ndarray:
    """Each item's probability from a balanced logistic regression fit on the other folds."""
    p = np.empty(len(y))
    for f in folds:
        train = np.setdiff1d(np.arange(len(y)), f)
        w = fit_logistic(x[train], y[train], l2=l2, balanced=True)
        p[f] = _sigmoid(w[0] + x[f] @ w[1:])
    return p


def fit_question_model(vecs: np.ndarray, y: np.ndarray, grid: tuple[float, ...] = QUESTION_L2_GRID,
                       k: int = 5) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The question model: a balanced, L2-penalised logistic regression on the questions' embeddings.

    The penalty is chosen by ``k``-fold cross-validated log-loss. Returns the weights fit on every item,
    each item's out-of-fold probability (what the scope model is fit on, so it learns how far to trust
    the question model on questions it has not seen), the chosen penalty and its log-loss.
    """
    folds = _folds(y, k)
    best: tuple[float, float, np.ndarray] | None = None
    for l2 in grid:
        oof = _out_of_fold(vecs, y, l2, folds)
        eps = 1e-6
        loss = float(-np.mean(y * np.log(oof + eps) + (1 - y) * np.log(1 - oof + eps)))
        if best is None or loss < best[0]:
            best = (loss, l2, oof)
    assert best is not None
    loss, l2, oof = best
    return fit_logistic(vecs, y, l2=l2, balanced=True), oof, l2, loss


def cross_validate_scope(x: np.ndarray, y: np.ndarray, l2: float, threshold: float = 0.5, k: int = 5,
                         seeds: tuple[int, ...] = (0, 1, 2)) -> list[tuple[float, float]]:
    """What the scope model does on dev questions it was not fit on: for each shuffle ``seed``, every item
    is scored by the model fit on the other ``k - 1`` folds. Returns (out-of-scope abstained, in-scope
    abstained) at ``threshold`` per seed: the expectation for new questions, below the in-sample fit's."""
    out = []
    for seed in seeds:
        p = _out_of_fold(x, y, l2, _folds(y, k, seed=seed))
        out.append((float(np.mean(p[y == 0] < threshold)), float(np.mean(p[y == 1] < threshold))))
    return out


def collect(qa: Path) -> tuple[str, list[dict], list[int], list[tuple[float, int]], np.ndarray]:
    """The embedding model's name, then scope features + in-scope labels, (routing margin, correct) pairs,
    and the (resolved) questions' vectors, for every dev item (with the settings' model, backend and index).

    Each item is asked through the pipeline itself (`Assistant.ask(trace=True)`), which reports what its
    stages saw: the tuning cannot drift from what the assistant does."""
    assistant = load_assistant(Settings(), options=AskOptions(use_abstention=False))
    engine = assistant.engine
    feats: list[dict] = []
    labels: list[int] = []
    margins: list[tuple[float, int]] = []
    vecs: list[np.ndarray] = []
    for line in qa.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        turns = item.get("turns") or [item["question"]]
        sid = None
        for t in turns[:-1]:
            sid = assistant.ask(t, session_id=sid).session_id
        trace = assistant.ask(turns[-1], session_id=sid, top_k=TRACE_DEPTH, trace=True).trace
        assert trace is not None
        routing = trace.routing
        feats.append(dict(trace.scope.features))
        vecs.append(np.asarray(engine.embedder.encode_query(trace.question.embed_text), dtype=np.float64))
        labels.append(0 if item["kind"] == "out_of_scope" else 1)
        if item["directorates"] and routing.primary is not None:
            margins.append((routing.margin, int(routing.primary.code in item["directorates"])))
    return engine.embedder.name, feats, labels, margins, np.array(vecs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qa", type=Path, default=Path("eval/qa_dev.jsonl"))
    ap.add_argument("--l2", type=float, default=0.1)
    ap.add_argument("--write", action="store_true", help=f"store the parameters in {TUNED}")
    args = ap.parse_args()
    if "test" in args.qa.name:
        raise SystemExit("refusing to tune on a test split: use the dev file")
    model, feats, labels, margins, vecs = collect(args.qa)
    y = np.array(labels, dtype=float)
    qw, oof, q_l2, q_loss = fit_question_model(vecs, y)
    print(f"question model on {len(y)} dev items: L2 {q_l2} by 5-fold log-loss {q_loss:.3f}; out of fold it "
          f"flags {np.mean(oof[y == 0] < 0.5):.3f} of the off-topic and {np.mean(oof[y == 1] < 0.5):.3f} of the "
          "in-scope questions")
    logit = np.clip(np.log(np.clip(oof, 1e-12, 1.0)) - np.log(np.clip(1 - oof, 1e-12, 1.0)),
                    -QUESTION_LOGIT_CAP, QUESTION_LOGIT_CAP)
    for f, z in zip(feats, logit, strict=True):
        f["question_model"] = float(z)  # out-of-fold log-odds, as `ScopeWeights.question_model` gives them
    x = np.array([[f[k] for k in FEATURES] for f in feats], dtype=float)
    w = fit_logistic(x, y, l2=args.l2, balanced=True)
    p = _sigmoid(w[0] + x @ w[1:])
    pred = p >= 0.5
    print(f"scope model on {len(y)} dev items: accuracy {np.mean(pred == (y == 1)):.3f}, "
          f"out-of-scope abstained {np.mean(~pred[y == 0]):.3f}, in-scope abstained {np.mean(~pred[y == 1]):.3f}")
    cv = cross_validate_scope(x, y, l2=args.l2)
    print("scope model cross-validated (5 folds, 3 shuffles): out-of-scope abstained "
          + ", ".join(f"{a:.3f}" for a, _ in cv) + "; in-scope abstained " + ", ".join(f"{b:.3f}" for _, b in cv))
    m = np.array([[a] for a, _ in margins])
    c = np.array([b for _, b in margins], dtype=float)
    cw = fit_logistic(m, c, l2=0.1)
    conf = _sigmoid(cw[0] + m[:, 0] * cw[1])
    print(f"routing calibration on {len(c)} routed dev items: accuracy {c.mean():.3f}, "
          f"mean confidence {conf.mean():.3f}")
    params = {
        "scope": {"bias": round(float(w[0]), 4),
                  "weights": {k: round(float(v), 4) for k, v in zip(FEATURES, w[1:], strict=True)}},
        "router": {"calib_a": round(float(cw[1]), 4), "calib_b": round(float(cw[0]), 4)},
        "question": {"bias": round(float(qw[0]), 5), "weights": [round(float(v), 5) for v in qw[1:]],
                     "l2": q_l2, "cv_log_loss": round(q_loss, 4)},
        "fit_on": args.qa.name, "items": len(y),
    }
    print(json.dumps({k: v for k, v in params.items() if k != "question"}, indent=2))
    if args.write:
        write_tuned(model, params, TUNED)
        print(f"written to {TUNED} for embedding model {model}")
    assert all(math.isfinite(v) for v in params["scope"]["weights"].values())


if __name__ == "__main__":
    main()
