"""Citation labels: reading and locating them, which shown passage covers which quote, and citation precision
and recall (ranx) over scripted answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.metrics import citation_scores
from eval.qrels import QrelsFormatError, Quote, Span, covers, default_qrels, grade, load_qrels, pages_of
from eval.runner import run_eval
from tests.helpers import CORPUS, ITEMS, PAGE, QRELS, ROOT, ScriptedAsker

PAGES = {"doc": PAGE}


def test_a_passage_covers_a_quote_it_holds_or_most_of_it():
    q = Quote("doc", 100, 200, 2)
    assert covers(Span("doc", 0, 300), q) and covers(Span("doc", 100, 200), q)
    assert covers(Span("doc", 140, 400), q)  # 60 of its 100 characters
    assert not covers(Span("doc", 150, 400), q)  # half of it is not most of it
    assert not covers(Span("other", 0, 300), q) and not covers(Span("doc", 200, 300), q)
    # A long quote held by two overlapping chunks: each holds most of it, or not.
    assert grade(Span("doc", 0, 160), [q, Quote("doc", 150, 170, 1)]) == 2
    assert grade(Span("doc", 155, 300), [q, Quote("doc", 150, 170, 1)]) == 1
    assert grade(Span("doc", 300, 400), [q]) == 0


def test_labels_are_located_on_their_pages(tmp_path: Path):
    labels = load_qrels(QRELS, PAGES, ids=[i.id for i in ITEMS])
    assert set(labels) == {"r1", "r2", "t1", "f1", "m1"}
    (m1,) = labels["m1"]
    assert PAGE[m1.start:m1.end] == "policy on non-proliferation" and m1.grade == 2
    assert m1.key == f"doc:{m1.start}-{m1.end}"
    # A quote whose spaces differ from the page's (a line break for a space) is found all the same.
    loose = tmp_path / "loose.jsonl"
    loose.write_text('{"id": "r1", "passages": [{"document": "doc", "quote": "Security\\nPolicy", "grade": 1}]}\n')
    (q,) = load_qrels(loose, PAGES)["r1"]
    assert PAGE[q.start:q.end] == "Security Policy"


@pytest.mark.parametrize("line, message", [
    ('{"id": "zz", "passages": []}', r"line 1: field 'id': 'zz' is no item of the Q&A file"),
    ('{"id": "r1", "passages": [{"document": "doc", "quote": "x", "grade": 3}]}', r"line 1: field 'passages.0.grade'"),
    ('{"id": "r1", "passages": [{"document": "nope", "quote": "x", "grade": 1}]}',
     r"document 'nope' is not in the corpus; known: doc"),
    ('{"id": "r1", "passages": [{"document": "doc", "quote": "not on the page", "grade": 1}]}',
     r"the quote 'not on the page' is not on the page 'doc'"),
    ('{"id": "r1", "passages": []}\n{"id": "r1", "passages": []}', r"line 2: field 'id': 'r1' is labelled twice"),
    ('{"id": "r1", "passages": [}', r"line 1: not valid JSON"),
])
def test_a_bad_label_names_its_line_and_the_fix(tmp_path: Path, line: str, message: str):
    path = tmp_path / "dev.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(QrelsFormatError, match=message):
        load_qrels(path, PAGES, ids=[i.id for i in ITEMS])
    with pytest.raises(QrelsFormatError, match="file not found"):
        load_qrels(tmp_path / "missing.jsonl", PAGES)


def test_the_labels_beside_a_split_are_found(tmp_path: Path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "dev.jsonl").write_text("")
    assert default_qrels(tmp_path / "qa_dev.jsonl") == tmp_path / "qrels" / "dev.jsonl"
    assert default_qrels(tmp_path / "qa_test.jsonl") is None and default_qrels(tmp_path / "dev.jsonl") is None


def test_the_shipped_labels_fit_the_shipped_pages():
    """Every quote of eval/qrels/*.jsonl is on its page of corpus/, for an item of its split."""
    from eval.dataset import load_qa

    pages = pages_of(CORPUS)
    found = 0
    for split in ("dev", "test"):
        path = default_qrels(ROOT / "eval" / f"qa_{split}.jsonl")
        if path is None:
            continue
        labels = load_qrels(path, pages, ids=[i.id for i in load_qa(ROOT / "eval" / f"qa_{split}.jsonl")])
        assert all(q.grade in (1, 2) and q.document in pages for quotes in labels.values() for q in quotes)
        found += len(labels)
    assert found  # the labels ship with the Q&A


def test_citation_scores_with_ranx():
    scores = citation_scores(
        shown={"a": [("c1", 2), ("c2", 0)], "b": [("c3", 1)], "c": []},
        labelled={"a": [("q1", 2), ("q2", 1)], "b": [("q3", 1)], "c": [("q4", 2)], "d": []},
        covered={"a": ["q1"], "b": ["q3", "q3"]})
    assert scores["a"] == {"precision": 0.5, "recall": 0.5}
    assert scores["b"] == {"precision": 1.0, "recall": 1.0}
    assert scores["c"] == {"recall": 0.0}  # nothing shown: no precision, nothing found
    assert scores["d"] == {}  # labelled with no quote: neither
    assert citation_scores({}, {}, {}) == {}


def test_the_eval_reports_citation_precision_recall_and_citations_per_answer():
    labels = load_qrels(QRELS, PAGES, ids=[i.id for i in ITEMS])
    report = run_eval({"full": ScriptedAsker()}, ITEMS, top_k=10, progress=False, qrels=labels)
    full = report.config("full")
    o = full.overall
    # English: r1 shows M1's sentence and another (1/2), r2 only its label (1/1), f1 the policy and another
    # (1/2); t1 abstained. Recall: r1 1, r2 1, t1 0, f1 1 of 2.
    assert o.citation_precision == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert o.citation_recall == pytest.approx((1 + 1 + 0 + 0.5) / 4)
    assert o.n_labelled == 4
    assert o.citations_per_answer == pytest.approx((2 + 1 + 1 + 2 + 4) / 5)  # r1 r2 o2 f1 f2 answered
    assert full.by_language["fr"].citation_precision == 1.0 and full.by_language["fr"].citation_recall == 1.0
    by_id = {r.id: r for r in full.items}
    assert [(c.rank, c.grade) for c in by_id["r2"].citations] == [(3, 2)]
    assert [(c.rank, c.grade) for c in by_id["r2"].related] == [(1, 0), (2, 0)]
    assert by_id["f2"].citation_precision is None and by_id["f2"].citations[0].grade is None  # not labelled
    # The ranking figures read every passage shown in retrieval order: r2's label is at rank 3 though cited [1].
    assert by_id["r2"].relevant == [3] and by_id["r2"].scores["hit@1"] == 0.0 and by_id["r2"].scores["hit@3"] == 1.0
    # Without labels, nothing is said about citations.
    bare = run_eval({"full": ScriptedAsker()}, ITEMS, top_k=10, progress=False).config("full").overall
    assert bare.citation_precision is None and bare.citation_recall is None and bare.citations_per_answer == 2.0
    assert (bare.hit_3, bare.mrr_10) == (o.hit_3, o.mrr_10)
