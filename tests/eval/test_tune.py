"""Tuning on dev: the logistic fits of eval.tune, cross-validated, and never on the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from eval import tune


def _clusters(n: int = 60, dim: int = 16, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Two clusters of unit vectors (label 1 and 0) that overlap a little."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=dim)
    y = (np.arange(n) % 3 != 0).astype(float)  # unbalanced, as dev is
    x = rng.normal(size=(n, dim)) * 0.6 + np.where(y[:, None] == 1, centre, -centre)
    return x / np.linalg.norm(x, axis=1, keepdims=True), y


def test_fit_logistic_separates_and_stays_finite_on_separable_data():
    x, y = _clusters()
    w = tune.fit_logistic(x, y, l2=0.01, balanced=True)
    assert w.shape == (x.shape[1] + 1,) and np.isfinite(w).all()
    pred = (w[0] + x @ w[1:]) > 0
    assert np.array_equal(pred, y == 1)


def test_folds_are_stratified_and_cover_every_item_once():
    y = np.array([0.0] * 7 + [1.0] * 13)
    folds = tune._folds(y, 5)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(y)))
    assert all({0.0, 1.0} <= set(y[f].tolist()) for f in folds)
    assert [f.tolist() for f in tune._folds(y, 5)] == [f.tolist() for f in folds]  # reproducible


def test_question_model_is_cross_validated():
    x, y = _clusters()
    w, oof, l2, loss = tune.fit_question_model(x, y, grid=(0.01, 1.0, 100.0))
    assert w.shape == (x.shape[1] + 1,)
    assert l2 in (0.01, 1.0) and 0 < loss < 0.69  # better than a coin, and not the crippling penalty
    # Out-of-fold probabilities: each item was scored by a model that never saw it.
    assert oof.shape == y.shape and np.mean((oof >= 0.5) == (y == 1)) > 0.9


def test_scope_cross_validation_scores_every_item_out_of_fold():
    x, y = _clusters()
    cv = tune.cross_validate_scope(x, y, l2=0.01)
    assert len(cv) == 3 and all(0.8 < oos <= 1.0 and 0.0 <= ins < 0.2 for oos, ins in cv)
    # Labels the features cannot explain: out of fold, the model is no better than chance.
    noise = np.random.default_rng(0).permutation(y)
    assert np.mean([oos + (1 - ins) for oos, ins in tune.cross_validate_scope(x, noise, l2=0.01)]) < 1.4


def test_tuning_refuses_the_test_split():
    with pytest.raises(ValueError, match="refusing to tune on a test split"):
        tune.tune(Settings(), Path("eval/qa_test.jsonl"))


def _routing_rows(n: int = 80, units: int = 6, seed: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Questions whose right unit has the strongest passage labels (column 4) while the keyword column (1)
    is noise, as routing's signal rows (`assistant.route.unit_features`) would be."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        feats = rng.uniform(0, 0.5, size=(units, 6))
        gold = np.zeros(units, dtype=bool)
        gold[rng.integers(units)] = True
        feats[gold, 4] += 0.4
        rows.append((feats, gold))
    return rows


def test_routing_signal_weights_are_learned_from_the_rows_and_scaled_to_the_defaults():
    from assistant.route import SIGNALS, RouterWeights

    rows = _routing_rows()
    weights, cv_accuracy, l2 = tune.fit_router_signals(rows)
    assert set(weights) == set(SIGNALS) and l2 in tune.ROUTER_L2_GRID
    assert max(weights, key=lambda k: weights[k]) == "labels"  # the signal that decides, learned
    assert sum(abs(v) for v in weights.values()) == pytest.approx(RouterWeights().signal_weights().sum(), rel=1e-3)
    learned = np.array([weights[s] for s in SIGNALS])
    assert tune.routing_accuracy(rows, learned) > 0.8 and cv_accuracy > 0.8
    # The same rows, scored by weights that ignore the deciding signal, route far fewer questions right.
    assert tune.routing_accuracy(rows, np.array([0, 1.0, 0, 0, 0, 0])) < 0.5


def test_question_kinds_are_a_cross_validated_multinomial_fit():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16))
    labels = ["unit", "date", "small_talk"] * 30
    x = np.stack([centres[i % 3] + rng.normal(size=16) * 0.5 for i in range(len(labels))])
    model, l2, accuracy = tune.fit_kinds(x, labels, grid=(0.1, 1.0))
    assert sorted(model.labels) == ["date", "small_talk", "unit"] and model.dim == 16
    assert l2 in (0.1, 1.0) and accuracy > 0.9
    p = model.probabilities(centres[1].astype(np.float32))
    assert max(p, key=p.get) == "date" and abs(sum(p.values()) - 1) < 1e-6
    # Labels the vectors cannot explain: no better than chance out of fold.
    _, _, noise = tune.fit_kinds(x, list(rng.permutation(labels)), grid=(1.0,))
    assert noise < 0.6


def test_the_labelled_kinds_load_and_cover_every_kind_in_four_languages(tmp_path):
    from assistant.question import KINDS
    from eval.dataset import QAFormatError, load_kinds

    items = load_kinds(tune.KINDS_DIR)
    assert len(items) >= 2000 and {i.kind for i in items} == set(KINDS)
    assert {i.language for i in items} == {"en", "fr", "nl", "de"}
    bad = tmp_path / "xx.jsonl"
    bad.write_text('{"text": "Bonjour", "kind": "greeting", "language": "fr"}\n', encoding="utf-8")
    with pytest.raises(QAFormatError, match=r"xx.jsonl line 1: kind: unknown kind 'greeting'"):
        load_kinds(tmp_path)
    with pytest.raises(QAFormatError, match="no labelled questions"):
        load_kinds(tmp_path / "none")


def test_the_scope_model_is_calibrated_and_its_threshold_chosen_out_of_fold():
    x, y = _clusters(n=90)
    w = tune.fit_logistic(x, y, l2=0.01, balanced=True)
    calibrated, threshold, (oos, ins) = tune.calibrate_scope(x, y, w, l2=0.01)
    assert calibrated.shape == w.shape and np.isfinite(calibrated).all()
    # Platt scaling keeps the model linear and its ranking: a positive multiple of the weights.
    ratio = calibrated[1:] / w[1:]
    assert ratio.min() > 0 and np.allclose(ratio, ratio[0])
    assert threshold in tune.THRESHOLD_GRID and oos > 0.8 and ins < 0.2
    # Calibrated: the mean probability is near the share of in-scope items (the balanced fit's is not).
    p = 1 / (1 + np.exp(-(calibrated[0] + x @ calibrated[1:])))
    assert abs(p.mean() - y.mean()) < 0.08


def test_fusion_weights_are_chosen_by_dev_mrr_and_ties_keep_the_defaults(tmp_path, monkeypatch, settings, built_index,
                                                                          embedder):
    """`choose_fusion` asks the questions through the real assistant with each candidate's weights; the
    defaults win a tie even when another candidate comes first."""
    import json

    from assistant.retrieve import DEFAULT_FUSION
    from assistant.route import RouterWeights

    qa = tmp_path / "qa_dev.jsonl"
    items = [
        {"id": "t-1", "kind": "route", "question": "Which directorate deals with the OSCE?",
         "phrases": ["Organization for Security and Cooperation in Europe"], "directorates": ["M1"]},
        {"id": "t-2", "kind": "route", "question": "Who handles climate change negotiations?",
         "phrases": ["climate"], "directorates": ["MD8"]},
        {"id": "t-3", "kind": "out_of_scope", "question": "What is the weather in Ghent?", "phrases": [],
         "directorates": []},
    ]
    qa.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    other = (0.9, 0.1)
    import eval.runner

    used, real = [], eval.runner.run_eval

    def recording(askers, *args, **kwargs):  # the weights each pass really answers with
        o = askers["tune"].engine.retriever.options
        used.append((o.dense_weight, o.bm25_weight))
        return real(askers, *args, **kwargs)

    monkeypatch.setattr(eval.runner, "run_eval", recording)
    chosen, mrr, table = tune.choose_fusion(settings, qa, RouterWeights(), None, embedder,
                                            grid=(other, DEFAULT_FUSION))
    assert used == [other, DEFAULT_FUSION]
    assert [w for w, _ in table] == [other, DEFAULT_FUSION]
    scores = dict(table)
    assert all(0.0 <= m <= 1.0 for m in scores.values())
    if abs(scores[other] - scores[DEFAULT_FUSION]) <= tune.FUSION_TIE:
        assert chosen == DEFAULT_FUSION
    else:
        assert chosen == max(scores, key=scores.get)
    assert mrr == scores[chosen]
    # Weights the settings give are not searched.
    fixed = settings.model_copy(update={"dense_weight": 0.7, "bm25_weight": 0.3})
    used.clear()
    assert tune.choose_fusion(fixed, qa, RouterWeights(), None, embedder)[0] == (0.7, 0.3) and used == [(0.7, 0.3)]
