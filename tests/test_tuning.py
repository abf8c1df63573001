"""The dev-fit parameters: the logistic fits of eval.tune and how assistant.fit stores and finds them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.fit import FIT_FILE, Fit, QuestionFit, RouterFit, ScopeFit, load_fit, shipped_fit_path
from assistant.scope import QUESTION_LOGIT_CAP, ScopeWeights
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


def test_scope_weights_question_model_is_neutral_without_a_fit():
    vec = np.ones(4, dtype=np.float32) / 2
    assert ScopeWeights().question_model(vec) == 0.0
    fitted = ScopeWeights(question_bias=0.5, question_weights=(1.0, 0.0, 0.0, 0.0))
    assert fitted.question_model(vec) == pytest.approx(1.0)
    assert fitted.question_model(None) == 0.0
    assert fitted.question_model(np.ones(3, dtype=np.float32)) == 0.0  # another model's dimension
    huge = ScopeWeights(question_bias=100.0, question_weights=(1.0, 0.0, 0.0, 0.0))
    assert huge.question_model(vec) == QUESTION_LOGIT_CAP


def _fit(model: str = "model-a", fingerprint: str = "corpus-1", bias: float = -1.0) -> Fit:
    return Fit(model=model, corpus_fingerprint=fingerprint, fit_on="qa_dev.jsonl", items=10,
               scope=ScopeFit(bias=bias, weights={"dense_max": 2.0}), router=RouterFit(calib_a=3.0, calib_b=0.5),
               question=QuestionFit(bias=0.25, weights=[0.5, -0.5]))


def test_a_fit_round_trips_and_gives_its_weights(tmp_path):
    path = tmp_path / "fit.json"
    _fit().write(path)
    fit = Fit.read(path)
    assert fit == _fit()
    scope_w, router_w = fit.weights()
    assert scope_w.bias == -1.0 and scope_w.weights == {"dense_max": 2.0}
    assert scope_w.question_bias == 0.25 and scope_w.question_weights == (0.5, -0.5)
    assert router_w.calib_a == 3.0 and router_w.calib_b == 0.5


def test_the_index_folders_own_fit_comes_first_then_the_shipped_one(tmp_path, caplog):
    index, shipped = tmp_path / "index", tmp_path / "fits"
    _fit(bias=-2.0).write(shipped_fit_path(shipped, "model-a"))
    got = load_fit(index, shipped, "model-a", "corpus-1")
    assert got.exact and got.scope.bias == -2.0 and got.source.endswith("model-a.json")
    _fit(bias=-3.0).write(index / FIT_FILE)
    got = load_fit(index, shipped, "model-a", "corpus-1")
    assert got.exact and got.scope.bias == -3.0 and got.source.endswith(FIT_FILE)
    assert not caplog.records  # an exact fit is used without a word


def test_a_fit_for_another_corpus_is_used_with_a_warning_and_another_models_never(tmp_path, caplog):
    shipped = tmp_path / "fits"
    _fit(fingerprint="corpus-old").write(shipped_fit_path(shipped, "model-a"))
    with caplog.at_level(logging.WARNING):
        got = load_fit(tmp_path / "index", shipped, "model-a", "corpus-new")
    assert not got.exact and got.scope.bias == -1.0
    assert "over another corpus" in caplog.text and "dgm-assistant tune --write" in caplog.text
    caplog.clear()
    (tmp_path / "index").mkdir()
    _fit(model="model-b").write(tmp_path / "index" / FIT_FILE)  # another model's fit, in the index folder
    with caplog.at_level(logging.WARNING):
        got = load_fit(tmp_path / "index", tmp_path / "none", "model-c", "corpus-1")
    assert got.source == "defaults" and got.scope == ScopeWeights() and "no fit for embedding model" in caplog.text


def test_a_sibling_quantisations_fit_is_the_next_best(tmp_path, caplog):
    shipped = tmp_path / "fits"
    _fit(model="model-a+int8", bias=-4.0).write(shipped_fit_path(shipped, "model-a+int8"))
    with caplog.at_level(logging.WARNING):
        got = load_fit(tmp_path / "index", shipped, "model-a+int8w8", "corpus-1")
    assert got.scope.bias == -4.0 and not got.exact and "quantised otherwise" in caplog.text


def test_an_unreadable_fit_is_ignored_with_a_warning(tmp_path, caplog):
    (tmp_path / FIT_FILE).write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert Fit.read(tmp_path / FIT_FILE) is None
    assert "unreadable fit" in caplog.text


def test_tuning_refuses_the_test_split():
    with pytest.raises(ValueError, match="refusing to tune on a test split"):
        tune.tune(Settings(), Path("eval/qa_test.jsonl"))
