"""The report: topics by silhouette-chosen k-means, counts, the HTML page with its inline charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from assistant.insights import build_report, choose_clusters, engine_search, render_html, topics_of
from assistant.privacy import Masker

# Declined questions of three kinds the pages do not cover, four of each (the fixture of the clustering).
TOPICS = {
    "weather": ["What will the weather be in Brussels tomorrow?", "Is it going to rain in Ghent this weekend?",
                "How cold will it be in Antwerp on Monday?", "What is the temperature forecast for Liège?"],
    "passport": ["How do I renew my Belgian passport?", "Where can I apply for a new identity card?",
                 "My passport was stolen abroad, what should I do?", "How long does a passport renewal take?"],
    "football": ["Who won the football world cup in 2018?", "Which team won the Champions League final?",
                 "When do the Red Devils play their next football match?", "Who is the top scorer of the Pro League?"],
}


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(16)[:3] * 5
    truth = np.repeat(np.arange(3), 6)
    x = centres[truth] + rng.normal(scale=0.3, size=(len(truth), 16))
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return all((a[i] == a[j]) == (b[i] == b[j]) for i in range(len(a)) for j in range(len(a)))


def test_the_number_of_clusters_is_the_silhouettes_choice():
    x, truth = _blobs()
    labels = choose_clusters(x, max_clusters=8)
    assert len(set(labels)) == 3 and _same_partition(labels, truth)


def test_too_few_or_unseparated_vectors_make_one_cluster():
    x, _ = _blobs()
    assert set(choose_clusters(x[:3], 8)) == {0}
    assert set(choose_clusters(x, 1)) == {0}


@pytest.mark.slow
def test_declined_questions_cluster_into_their_topics_with_the_real_model(assistant):
    embed, nearest = engine_search(assistant.engine)
    questions = [q for qs in TOPICS.values() for q in qs]
    topics = topics_of(questions, embed(questions), max_clusters=6, examples=3, nearest=nearest)
    assert sorted(t.size for t in topics) == [4, 4, 4]
    for topic in topics:
        kinds = {name for name, qs in TOPICS.items() for q in topic.examples if q in qs}
        assert len(kinds) == 1 and len(topic.examples) == 3
        assert topic.nearest is not None and topic.nearest.title and -1 <= topic.nearest.score <= 1


def _rows() -> list[dict]:
    day = datetime(2026, 11, 30, 9, 0)
    rows = []
    for i, (lang, decision, unit, followup) in enumerate([
            ("en", "answered", "M1", False), ("fr", "answered", "M1", True), ("nl", "declined", None, False),
            ("de", "answered", "M2", False), ("en", "declined", None, True)]):
        rows.append({"ts": day + timedelta(days=i % 2), "question": f"question {i}", "language": lang,
                     "decision": decision, "reason": "off_topic" if decision == "declined" else None,
                     "unit": unit, "followup": followup, "rating": "down" if i == 0 else None})
    return rows


def test_the_report_counts_days_languages_units_follow_ups_and_masks_old_feedback():
    disliked = [{"ts": "2026-11-30T10:00:00.000+00:00", "question": "call 0475 12 34 56", "answer": "an answer",
                 "comment": "write to me: a.b@c.be"}]
    report = build_report(_rows(), disliked, Masker())
    assert (report.total, report.answered, report.declined, report.followups) == (5, 3, 2, 2)
    assert report.per_day == ((datetime(2026, 11, 30).date(), 3), (datetime(2026, 12, 1).date(), 2))
    assert dict(report.per_language) == {"en": 2, "fr": 1, "nl": 1, "de": 1}
    assert report.per_unit == (("M1", 2), ("M2", 1)) and report.reasons == (("off_topic", 2),)
    assert report.followup_share == pytest.approx(0.4)
    assert report.disliked[0].question == "call [PHONE]" and report.disliked[0].comment == "write to me: [EMAIL]"
    assert not report.clustered and report.topics == ()


def test_the_page_has_inline_charts_no_script_and_escapes_the_questions():
    rows = _rows()
    rows[2]["question"] = "<script>alert(1)</script> who?"
    report = build_report(rows, [], Masker(), embed=lambda texts: _blobs()[0][: len(texts)])
    page = render_html(report, csv_url="/admin/export.csv")
    assert page.count("<svg") == 3 and "<script" not in page and "&lt;script&gt;" in page
    assert "Questions per day" in page and 'href="/admin/export.csv"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page  # nothing fetched
    assert report.generated_at.tzinfo is UTC
