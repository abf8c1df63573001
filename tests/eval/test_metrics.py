"""Scoring: hand-computed ranking figures, relevance, calibration, the confusion matrix."""

from __future__ import annotations

import math

import pytest

from eval.metrics import calibration, confusion_matrix, is_relevant, mean, ranking_scores


def test_ranking_scores_match_hand_computed_figures() -> None:
    # One relevant passage each: at rank 1, at rank 3, nowhere.
    scores = ranking_scores({"a": [True, False, False], "b": [False, False, True], "c": [False, False]})
    avg = {m: mean(s[m] for s in scores.values()) for m in scores["a"]}
    assert avg["hit@1"] == pytest.approx(1 / 3)
    assert avg["hit@3"] == pytest.approx(2 / 3)
    assert avg["hit@5"] == pytest.approx(2 / 3)
    assert avg["mrr@10"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert avg["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4) + 0) / 3)
    assert scores["c"] == {"hit@1": 0, "hit@3": 0, "hit@5": 0, "mrr@10": 0, "ndcg@10": 0}


def test_ranking_keeps_returned_order_and_scores_empty_answers_zero() -> None:
    scores = ranking_scores({"late": [False] * 5 + [True], "empty": [], "two": [False, True, True]})
    assert scores["late"]["hit@5"] == 0 and scores["late"]["mrr@10"] == pytest.approx(1 / 6)
    assert scores["empty"]["mrr@10"] == 0 and scores["empty"]["ndcg@10"] == 0
    # Two relevant passages at ranks 2 and 3: ideal DCG puts them at 1 and 2.
    ideal = 1 + 1 / math.log2(3)
    assert scores["two"]["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / ideal)
    assert ranking_scores({}) == {}
    assert ranking_scores({"only-empty": []})["only-empty"]["hit@5"] == 0


def test_is_relevant_ignores_case_and_whitespace() -> None:
    text = "The Directorate for\n Security   Policy (M1) coordinates the ESDP."
    assert is_relevant(text, ["the directorate for security policy"])
    assert is_relevant(text, ["nothing", "SECURITY POLICY (m1)"])
    assert not is_relevant(text, ["Human Rights"])
    assert not is_relevant(text, [])


def test_calibration_bins_and_ece() -> None:
    cal = calibration([0.95, 0.92, 0.15, 0.55], [True, False, False, True])
    assert cal.n == 4 and len(cal.bins) == 10
    top = cal.bins[9]
    assert top.n == 2 and top.accuracy == pytest.approx(0.5) and top.mean_confidence == pytest.approx(0.935)
    assert cal.bins[1].n == 1 and cal.bins[5].n == 1 and cal.bins[0].n == 0 and cal.bins[0].accuracy is None
    expected = 2 / 4 * abs(0.5 - 0.935) + 1 / 4 * abs(0 - 0.15) + 1 / 4 * abs(1 - 0.55)
    assert cal.ece == pytest.approx(expected)
    assert calibration([1.0], [True]).bins[9].n == 1  # confidence 1.0 falls in the last bin
    assert calibration([], []).ece is None


def test_confusion_matrix_counts_and_none() -> None:
    cm = confusion_matrix([("M1", "M1"), ("M2", "M3"), ("M2", None), ("M1", "M1")], ["M1", "M2", "M3"])
    assert cm.labels == ["M1", "M2", "M3", "none"]
    assert cm.count("M1", "M1") == 2 and cm.count("M2", "M3") == 1 and cm.count("M2", "none") == 1
    assert sum(map(sum, cm.counts)) == 4
