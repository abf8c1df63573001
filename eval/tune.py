"""Fit the scope model and the routing-confidence calibration on the DEV split (never on test).

    dgm-assistant tune [--qa eval/qa_dev.jsonl] [--write] [--ship]

Every dev question is asked through the assistant itself (`Assistant.ask(trace=True)`), which reports what
its stages saw, so the fit reads exactly the signals the assistant computes. Scikit-learn logistic
regressions, balanced between in-scope and off-topic questions:

- the question-kind classifier (`assistant.question.KindModel`): a multinomial logistic regression over the
  embeddings of the labelled questions of ``eval/kinds/`` (four languages, written apart from the Q&A), its
  L2 penalty chosen by stratified 5-fold accuracy; the scope features read its probabilities, so it is fit
  first;
- the question model, over the questions' embeddings, its L2 penalty chosen by stratified 5-fold log-loss;
- the scope model, over the scope features (the question model's out-of-fold log-odds among them, so it
  learns how far to trust it on questions it has not seen);
- routing's signal weights (explicit mention, keywords, remit similarity, descriptors, passage labels, the
  conversation's unit): a pairwise logistic regression on each routed dev question's per-unit signal rows
  (`assistant.route.unit_features`), the right unit's row against each other unit's, its penalty and
  routing's softmax temperature over the units' cosines (each model spreads its cosines differently) chosen
  by cross-validated routing accuracy;
- the routing calibration (Platt scaling of the routing margin into a confidence), on the dev questions asked
  again with those weights.

``--write`` stores the fit in the index folder (``fit.json``, with the model and corpus fingerprint it was
made for); ``--ship`` also in the corpus's fits folder, where a fresh build finds it (`assistant.fit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.fit import FIT_FILE, Fit, KindFit, QuestionFit, RetrievalFit, RouterFit, ScopeFit, shipped_fit_path
from assistant.question import KindModel
from assistant.retrieve import DEFAULT_FUSION
from assistant.route import SIGNALS, RouterWeights, unit_features
from assistant.scope import FEATURES, QUESTION_LOGIT_CAP, counted_verdict
from index import Embedder

from .corpora import GROWTH_DIR, grown
from .dataset import load_kinds, load_qa

KINDS_DIR = Path(__file__).parent / "kinds"  # the labelled questions of the kind classifier
KIND_L2_GRID = (0.03, 0.1, 0.3, 1.0)
QUESTION_L2_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
TEMPERATURE_GRID = (0.005, 0.01, 0.02, 0.03)  # routing's softmax temperature over the units' cosines
ROUTER_L2_GRID = (0.01, 0.1, 1.0, 10.0)  # the signal weights' penalty, chosen by cross-validated accuracy
GROWTH_DEV = "qa_dev.jsonl"  # the growth fixture's dev split (its test split is never read here)
FUSION_GRID = ((0.5, 0.5), DEFAULT_FUSION, (0.8, 0.2), (0.9, 0.1))  # (dense, BM25) fusion weights tried
FUSION_TIE = 0.002  # dev MRR differences below this are noise: the defaults are kept
TRACE_DEPTH = 10  # passages retrieved per dev question, as the evaluation asks for
FOLDS = 5


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, balanced: bool = False) -> np.ndarray:
    """Weights (bias first) of an L2-penalised logistic regression (scikit-learn, lbfgs; the bias is not
    penalised). ``balanced`` weighs each class by the inverse of its share, so the rare class (off-topic
    questions) counts as much as the common one."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0 / l2, class_weight="balanced" if balanced else None, max_iter=1000,
                               tol=1e-8)
    model.fit(x, y)
    return np.concatenate([model.intercept_, model.coef_[0]])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _folds(y: np.ndarray, k: int = FOLDS, seed: int = 0) -> list[np.ndarray]:
    """``k`` stratified folds of the item indices (a fixed shuffle, so a refit is reproducible)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(y)), y)]


def _out_of_fold(x: np.ndarray, y: np.ndarray, l2: float, folds: list[np.ndarray]) -> np.ndarray:
    """Each item's probability from a balanced logistic regression fit on the other folds."""
    p = np.empty(len(y))
    for f in folds:
        train = np.setdiff1d(np.arange(len(y)), f)
        w = fit_logistic(x[train], y[train], l2=l2, balanced=True)
        p[f] = _sigmoid(w[0] + x[f] @ w[1:])
    return p


def fit_question_model(vecs: np.ndarray, y: np.ndarray, grid: tuple[float, ...] = QUESTION_L2_GRID,
                       k: int = FOLDS) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The question model: a balanced, L2-penalised logistic regression on the questions' embeddings.

    The penalty is chosen by ``k``-fold cross-validated log-loss. Returns the weights fit on every item,
    each item's out-of-fold probability, the chosen penalty and its log-loss.
    """
    from sklearn.metrics import log_loss

    folds = _folds(y, k)
    best: tuple[float, float, np.ndarray] | None = None
    for l2 in grid:
        oof = _out_of_fold(vecs, y, l2, folds)
        loss = float(log_loss(y, np.clip(oof, 1e-6, 1 - 1e-6), labels=[0.0, 1.0]))
        if best is None or loss < best[0]:
            best = (loss, l2, oof)
    assert best is not None
    loss, l2, oof = best
    return fit_logistic(vecs, y, l2=l2, balanced=True), oof, l2, loss


def fit_kinds(vecs: np.ndarray, labels: list[str], grid: tuple[float, ...] = KIND_L2_GRID,
              k: int = FOLDS) -> tuple[KindModel, float, float]:
    """The question-kind classifier: a multinomial, L2-penalised logistic regression on the labelled questions'
    embeddings, its penalty chosen by stratified ``k``-fold accuracy. Returns the model fit on every item, the
    penalty and its cross-validated accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    y = np.array(labels)
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    scored = [(float(cross_val_score(LogisticRegression(C=1.0 / l2, max_iter=2000), vecs, y, cv=folds).mean()), l2)
              for l2 in grid]
    accuracy, l2 = max(scored, key=lambda s: (s[0], -s[1]))
    model = LogisticRegression(C=1.0 / l2, max_iter=2000).fit(vecs, y)
    return KindModel.from_arrays([str(c) for c in model.classes_], model.intercept_, model.coef_), l2, accuracy


THRESHOLD_GRID = tuple(round(0.05 + 0.01 * i, 2) for i in range(91))  # 0.05 .. 0.95


def calibrate_scope(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, k: int = FOLDS,
                    seeds: tuple[int, ...] = (0, 1, 2)) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Calibrate the balanced scope model and choose its threshold, both on out-of-fold scores.

    The balanced fit weighs off-topic and in-scope questions alike, so its probabilities are not those of
    the questions people ask. Platt scaling of its out-of-fold log-odds (each item scored by the model fit
    on the other folds) makes them so; the scaled model is still linear (``a * w + b``). The threshold is
    the one that minimises the out-of-fold balanced error (off-topic answered plus in-scope declined; ties:
    nearest 0.5). Returns the calibrated weights, the threshold and its out-of-fold (off-topic abstained,
    in-scope abstained) rates.
    """
    eps = 1e-9
    oof = np.concatenate([_out_of_fold(x, y, l2, _folds(y, k, seed=s)) for s in seeds])
    labels = np.tile(y, len(seeds))
    z = np.log(np.clip(oof, eps, 1.0)) - np.log(np.clip(1.0 - oof, eps, 1.0))
    b, a = fit_logistic(z[:, None], labels, l2=1e-3)
    calibrated = _sigmoid(a * z + b)

    def rates(t: float) -> tuple[float, float]:
        return float(np.mean(calibrated[labels == 0] < t)), float(np.mean(calibrated[labels == 1] < t))

    threshold = min(THRESHOLD_GRID, key=lambda t: ((1 - rates(t)[0]) + rates(t)[1], abs(t - 0.5)))
    return np.concatenate([[a * w[0] + b], a * w[1:]]), float(threshold), rates(threshold)


def cross_validate_scope(x: np.ndarray, y: np.ndarray, l2: float, threshold: float = 0.5, k: int = FOLDS,
                         seeds: tuple[int, ...] = (0, 1, 2)) -> list[tuple[float, float]]:
    """What the scope model does on dev questions it was not fit on: for each shuffle ``seed``, every item
    is scored by the model fit on the other ``k - 1`` folds. Returns (out-of-scope abstained, in-scope
    abstained) at ``threshold`` per seed: the expectation for new questions, below the in-sample fit's."""
    out = []
    for seed in seeds:
        p = _out_of_fold(x, y, l2, _folds(y, k, seed=seed))
        out.append((float(np.mean(p[y == 0] < threshold)), float(np.mean(p[y == 1] < threshold))))
    return out


@dataclass(frozen=True)
class Collected:
    """What the dev questions gave: the index's model and corpus, scope features, labels, routing margins."""

    model: str
    temperature: float  # the routing temperature the items were asked with
    corpus_fingerprint: str
    features: list[dict[str, float]]
    labels: np.ndarray  # 1 in scope, 0 off-topic
    margins: list[tuple[float, int]]  # (routing margin, routed correctly) of the routed in-scope items
    vectors: np.ndarray  # the embedded questions (what the question model reads)
    # Per in-scope question with a unit to route to: its units' signal rows and which units are right.
    routing: list[tuple[np.ndarray, np.ndarray]]

    @property
    def routing_accuracy(self) -> float:
        return float(np.mean([ok for _, ok in self.margins])) if self.margins else 0.0


def collect(settings: Settings, qa: Path, temperature: float | None = None,
            weights: RouterWeights | None = None, kinds: KindModel | None = None,
            embedder: Embedder | None = None, fusion: tuple[float, float] | None = None) -> Collected:
    """Ask every dev item through the pipeline and keep what its stages saw (the last turn of a conversation,
    earlier turns asked first in the same session); ``temperature``: routing's, instead of the current fit's;
    ``weights``: routing's signal weights and temperature, instead of the current fit's; ``kinds``: the
    question-kind classifier, instead of the current fit's; ``embedder``: the model already loaded (else the
    settings' is loaded); ``fusion``: the (dense, BM25) fusion weights the settings leave unset (else the
    code's defaults, whatever the index's fit says)."""
    assistant = _assistant(settings, embedder, kinds, fusion)
    engine = assistant.engine
    if weights is not None:
        engine.router.weights = replace(weights, calib_a=engine.router.weights.calib_a,
                                        calib_b=engine.router.weights.calib_b)
    if temperature is not None:
        engine.router.weights = replace(engine.router.weights, similarity_temperature=temperature,
                                        descriptor_temperature=temperature)
    codes = list(engine.router.codes)
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    feats: list[dict[str, float]] = []
    labels: list[int] = []
    margins: list[tuple[float, int]] = []
    vecs: list[np.ndarray] = []
    for item in load_qa(qa):
        turns = item.all_turns
        sid = None
        for t in turns[:-1]:
            sid = assistant.ask(t, session_id=sid).session_id
        trace = assistant.ask(turns[-1], session_id=sid, top_k=TRACE_DEPTH, trace=True).trace
        assert trace is not None
        feats.append(dict(trace.scope.features))
        vecs.append(np.asarray(engine.embedder.encode_query(trace.question.embed_text), dtype=np.float64))
        labels.append(0 if item.kind == "out_of_scope" else 1)
        if item.directorates and trace.routing.primary is not None:
            margins.append((trace.routing.margin, int(trace.routing.primary.code in item.directorates)))
        gold = np.array([c in item.directorates for c in codes])
        if item.kind != "out_of_scope" and gold.any() and not gold.all():
            rows.append((unit_features(trace.routing.signals, trace.question.prior, codes), gold))
    return Collected(engine.embedder.name, engine.router.weights.similarity_temperature,
                     engine.index.manifest.corpus_fingerprint, feats,
                     np.array(labels, dtype=float), margins, np.array(vecs), rows)


def _assistant(settings: Settings, embedder: Embedder | None, kinds: KindModel | None,
               fusion: tuple[float, float] | None):
    """The assistant over the settings' index, abstention off, with ``kinds`` and the fusion weights given
    (those the settings leave unset: ``fusion``, else the code's defaults, whatever the index's fit says, so
    that every tuning pass reads the same retrieval)."""
    from assistant.factory import load_assistant, retrieval_options

    assistant = load_assistant(settings, embedder, use_abstention=False)
    assistant.engine.retriever.options = retrieval_options(settings, fusion)
    if kinds is not None:
        assistant.engine.reader.kinds = kinds
    return assistant


def choose_fusion(settings: Settings, qa: Path, weights: RouterWeights, kinds: KindModel | None,
                  embedder: Embedder | None = None, grid: tuple[tuple[float, float], ...] = FUSION_GRID,
                  ) -> tuple[tuple[float, float], float, list[tuple[tuple[float, float], float]]]:
    """The (dense, BM25) fusion weights of ``grid`` whose answers rank the dev questions' passages best: the
    mean MRR@10 over every dev item with expected phrases, in every language, routing with ``weights``. Ties
    (within `FUSION_TIE`): the code's defaults, then the earlier grid entry. Returns the weights, their MRR and
    every entry's. Weights the settings give (`DGM_DENSE_WEIGHT`, `DGM_BM25_WEIGHT`) are not searched: the
    grid is then that one pair."""
    from assistant.factory import retrieval_options
    from eval.runner import run_eval

    if settings.dense_weight is not None or settings.bm25_weight is not None:
        fixed = retrieval_options(settings)
        grid = ((fixed.dense_weight, fixed.bm25_weight),)
    assistant = _assistant(settings, embedder, kinds, None)
    assistant.engine.router.weights = weights
    items = load_qa(qa)
    base = assistant.engine.retriever.options
    table = []
    for dense, bm25 in grid:
        assistant.engine.retriever.options = replace(base, dense_weight=dense, bm25_weight=bm25)
        report = run_eval({"tune": assistant}, items, top_k=TRACE_DEPTH, progress=False)
        mrr = [r.scores["mrr@10"] for r in report.configs[0].items if "mrr@10" in r.scores]
        table.append(((dense, bm25), float(np.mean(mrr)) if mrr else 0.0))
    best = max(m for _, m in table)
    near = [w for w, m in table if m >= best - FUSION_TIE]
    chosen = DEFAULT_FUSION if DEFAULT_FUSION in near else near[0]
    return chosen, dict(table)[chosen], table


def _pairs(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each question's right units' rows minus its other units' rows (and the mirror, labelled 0), weighted so
    that every question counts once."""
    diffs, weights = [], []
    for feats, gold in rows:
        d = (feats[gold][:, None, :] - feats[~gold][None, :, :]).reshape(-1, feats.shape[1])
        diffs.append(d)
        weights.append(np.full(len(d), 1.0 / len(d)))
    x = np.concatenate(diffs)
    w = np.concatenate(weights)
    return np.concatenate([x, -x]), np.concatenate([np.ones(len(x)), np.zeros(len(x))]), np.concatenate([w, w])


def _fit_signals(rows: list[tuple[np.ndarray, np.ndarray]], l2: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x, y, w = _pairs(rows)
    model = LogisticRegression(C=1.0 / l2, fit_intercept=False, max_iter=1000, tol=1e-8)
    model.fit(x, y, sample_weight=w * len(rows))
    return model.coef_[0]


def routing_accuracy(rows: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray) -> float:
    """The share of questions whose best-scoring unit under ``weights`` is a right one."""
    return float(np.mean([gold[int(np.argmax(feats @ weights))] for feats, gold in rows])) if rows else 0.0


def fit_router_signals(rows: list[tuple[np.ndarray, np.ndarray]], grid: tuple[float, ...] = ROUTER_L2_GRID,
                       k: int = FOLDS) -> tuple[dict[str, float], float, float]:
    """Routing's signal weights, fit on every question with the penalty that routes the most questions right
    out of fold. The weights are scaled to the defaults' total, so the margin-based settings that read them
    (disagreement penalty, secondary ratio) keep their meaning. Returns the weights, the out-of-fold routing
    accuracy and the penalty."""
    from sklearn.model_selection import KFold

    splits = list(KFold(n_splits=k, shuffle=True, random_state=0).split(np.zeros(len(rows))))
    best: tuple[float, float] | None = None
    for l2 in grid:
        hits = 0.0
        for train, held in splits:
            w = _fit_signals([rows[i] for i in train], l2)
            hits += routing_accuracy([rows[i] for i in held], w) * len(held)
        acc = hits / len(rows)
        if best is None or acc > best[0] + 1e-9:
            best = (acc, l2)
    assert best is not None
    acc, l2 = best
    w = _fit_signals(rows, l2)
    scale = float(RouterWeights().signal_weights().sum()) / float(np.abs(w).sum())
    return {s: round(float(v) * scale, 4) for s, v in zip(SIGNALS, w, strict=True)}, acc, l2


def tune(settings: Settings, qa: Path, l2: float = 0.1, say=print, growth: bool = False) -> Fit:
    """Fit on the dev file ``qa`` with the settings' model and index; ``say`` reports the fit's figures.

    ``growth``: the scope model and the question model also learn from the growth fixture's dev questions,
    asked over the corpus plus its pages (`eval.corpora.grown`). On the seeds alone every date, person and
    service question is off-topic, so a model fit there learns to decline those kinds whatever the passages
    hold; with pages that answer some of them it weighs what was retrieved more. Off by default: measured on
    fresh probes (docs/performance.md, 2026-12-01 night) it answered more questions of new pages and more
    near misses alike, and declined fewer off-topic questions about the seed pages.
    """
    if "test" in qa.name:
        raise ValueError(f"refusing to tune on a test split ({qa}): use the dev file")
    # Routing's signal weights for each temperature; the temperature whose weights route the most dev questions
    # right out of fold (ties: the sharper one). The questions are then asked again with them, so the scope
    # model and the calibration read what the assistant will do.
    # The code's default weights compete too, at each temperature: fitted weights are kept only when they route
    # more dev questions right out of fold than the defaults do (which no fold saw being chosen either).

    from assistant.factory import make_embedder

    embedder = make_embedder(settings)
    kind_items = load_kinds(KINDS_DIR)
    kind_vecs = np.array([embedder.encode_query(it.text) for it in kind_items], dtype=np.float64)
    kinds, kind_l2, kind_acc = fit_kinds(kind_vecs, [it.kind for it in kind_items])
    by_lang = sorted({it.language for it in kind_items})
    say(f"question kinds on {len(kind_items)} labelled questions ({', '.join(by_lang)}): L2 {kind_l2}, "
        f"{FOLDS}-fold accuracy {kind_acc:.3f}")
    runs = [(collect(settings, qa, t, kinds=kinds, embedder=embedder), t) for t in TEMPERATURE_GRID]
    defaults = RouterWeights()
    candidates: list[tuple[float, float, dict[str, float] | None]] = []
    for r, t in runs:
        fitted, cv_acc, router_l2 = fit_router_signals(r.routing)
        default_acc = routing_accuracy(r.routing, defaults.signal_weights())
        say(f"routing at temperature {t}: fitted signal weights (L2 {router_l2}) route {cv_acc:.3f} of the dev "
            f"questions right out of fold, the defaults {default_acc:.3f}: "
            + ", ".join(f"{k} {v}" for k, v in fitted.items()))
        candidates += [(cv_acc, t, fitted), (default_acc, t, None)]
    # Best accuracy; ties: the defaults (fewer fitted numbers), then the sharper temperature.
    _, temperature, signals = max(candidates, key=lambda c: (c[0], c[2] is None, -c[1]))
    say(f"-> temperature {temperature}, " + ("fitted signal weights" if signals else "the default signal weights"))
    weights = replace(defaults, similarity_temperature=temperature, descriptor_temperature=temperature,
                      **(signals or {}))
    fusion, fusion_mrr, table = choose_fusion(settings, qa, weights, kinds, embedder)
    say("fusion (dense, BM25) by dev MRR@10 over every language: "
        + ", ".join(f"{d}/{b} {m:.4f}" for (d, b), m in table) + f" -> {fusion[0]}/{fusion[1]}")
    data = collect(settings, qa, weights=weights, kinds=kinds, embedder=embedder, fusion=fusion)
    say(f"dev routing accuracy with them: {data.routing_accuracy:.3f}")
    features, y, vectors = list(data.features), data.labels, data.vectors
    fit_on = qa.name
    if growth:
        growth_qa = GROWTH_DIR / GROWTH_DEV
        extra = collect(grown(settings, embedder), growth_qa, weights=weights, kinds=kinds, embedder=embedder,
                        fusion=fusion)
        say(f"growth fixture: {len(extra.labels)} dev items over the corpus plus its pages "
            f"({int(extra.labels.sum())} in scope) join the scope and question models' fit")
        features += extra.features
        y = np.concatenate([y, extra.labels])
        vectors = np.concatenate([vectors, extra.vectors])
        fit_on = f"{qa.name} + {GROWTH_DIR.name}/{GROWTH_DEV}"
    qw, oof, q_l2, q_loss = fit_question_model(vectors, y)
    say(f"question model on {len(y)} dev items: L2 {q_l2} by {FOLDS}-fold log-loss {q_loss:.3f}; out of fold it "
        f"flags {np.mean(oof[y == 0] < 0.5):.3f} of the off-topic and {np.mean(oof[y == 1] < 0.5):.3f} of the "
        "in-scope questions")
    logit = np.clip(np.log(np.clip(oof, 1e-12, 1.0)) - np.log(np.clip(1 - oof, 1e-12, 1.0)),
                    -QUESTION_LOGIT_CAP, QUESTION_LOGIT_CAP)
    feats = [{**f, "question_model": counted_verdict(float(z), f.get("served", 0.0))}
             for f, z in zip(features, logit, strict=True)]
    x = np.array([[f[k] for k in FEATURES] for f in feats], dtype=float)
    balanced_w = fit_logistic(x, y, l2=l2, balanced=True)
    w, threshold, oof_rates = calibrate_scope(x, y, balanced_w, l2)
    pred = _sigmoid(w[0] + x @ w[1:]) >= threshold
    say(f"scope model on {len(y)} dev items, calibrated (Platt, out of fold), threshold {threshold:.2f} chosen "
        f"on out-of-fold probabilities: accuracy {np.mean(pred == (y == 1)):.3f}, out-of-scope abstained "
        f"{np.mean(~pred[y == 0]):.3f}, in-scope abstained {np.mean(~pred[y == 1]):.3f}; out of fold "
        f"{oof_rates[0]:.3f} and {oof_rates[1]:.3f}")
    cv = cross_validate_scope(x, y, l2=l2)
    say(f"scope model cross-validated ({FOLDS} folds, 3 shuffles, uncalibrated at 0.5): out-of-scope abstained "
        + ", ".join(f"{a:.3f}" for a, _ in cv) + "; in-scope abstained " + ", ".join(f"{b:.3f}" for _, b in cv))
    m = np.array([[a] for a, _ in data.margins])
    c = np.array([b for _, b in data.margins], dtype=float)
    cw = fit_logistic(m, c, l2=0.1)
    say(f"routing calibration on {len(c)} routed dev items: accuracy {c.mean():.3f}, "
        f"mean confidence {_sigmoid(cw[0] + m[:, 0] * cw[1]).mean():.3f}")
    fit = Fit(model=data.model, corpus_fingerprint=data.corpus_fingerprint, fit_on=fit_on, items=len(y),
              scope=ScopeFit(bias=round(float(w[0]), 4),
                             weights={k: round(float(v), 4) for k, v in zip(FEATURES, w[1:], strict=True)},
                             threshold=round(threshold, 2)),
              router=RouterFit(calib_a=round(float(cw[1]), 4), calib_b=round(float(cw[0]), 4),
                               temperature=temperature, signals=signals),
              question=QuestionFit(bias=round(float(qw[0]), 5), weights=[round(float(v), 5) for v in qw[1:]],
                                   l2=q_l2, cv_log_loss=round(q_loss, 4)),
              kinds=KindFit(labels=list(kinds.labels), bias=[round(b, 5) for b in kinds.bias],
                            weights=[[round(v, 5) for v in row] for row in kinds.weights],
                            fit_on=KINDS_DIR.name, items=len(kind_items), l2=kind_l2, cv_accuracy=round(kind_acc, 4)),
              retrieval=RetrievalFit(dense_weight=fusion[0], bm25_weight=fusion[1], mrr=round(fusion_mrr, 4)))
    if not all(math.isfinite(v) for v in fit.scope.weights.values()):
        raise ValueError("the scope fit diverged (non-finite weights); check the dev file")
    return fit


def store(fit: Fit, settings: Settings, index_path: Path, ship: bool) -> list[Path]:
    """Write the fit into the index folder, and with ``ship`` into the corpus's fits folder too."""
    paths = [Path(index_path) / FIT_FILE]
    if ship:
        paths.append(shipped_fit_path(settings.fits_dir or settings.corpus_dir / "fits", fit.model))
    for p in paths:
        fit.write(p)
    return paths
