"""Scoring: hand-computed ranking figures, routing and abstention shares, the report files, thresholds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

from assistant.models import Answer, Citation, DirectorateMatch
from eval.cli import check_thresholds, main, parse_thresholds
from eval.dataset import QAItem
from eval.metrics import calibration, confusion_matrix, is_relevant, mean, ranking_scores
from eval.report import render_markdown, summary_tables, write_report
from eval.runner import EvalReport, HttpAsker, RemoteAskError, run_eval

# -- pure functions --


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


# -- a scripted asker returning the assistant's real Answer type --


def _answer(question: str, session_id: str, *, texts: list[str] = (), code: str | None = None,
            confidence: float = 0.9, abstained: bool = False) -> Answer:
    citations = tuple(Citation(n=i, id=f"doc#{i}", title="Page", section=None, source=None, text=t,
                               score=1.0 / i, doc_id="doc", start=0, end=len(t))
                      for i, t in enumerate(texts, start=1))
    directorate = None if code is None else DirectorateMatch(code=code, name=code, confidence=confidence,
                                                             evidence_id=None)
    return Answer(question=question, rewritten_query=f"rewritten: {question}", answer="…",
                  abstained=abstained, citations=citations, directorate=directorate,
                  secondary_directorate=None, session_id=session_id, timings_ms={"total": 1.0})


OTHER = "Something unrelated about the corpus."
SCRIPT = {
    # question -> keyword arguments of _answer
    "What does M1 do?": {"texts": ["The Directorate for Security Policy (M1) ...", OTHER], "code": "M1"},
    "Who handles the UN?": {"texts": [OTHER, OTHER, "The Directorate for the United Nations (M2)"],
                            "code": "M3", "confidence": 0.8},
    "Define human rights": {"abstained": True},
    "How do I renew my passport?": {"abstained": True},
    "What is the weather in Ghent?": {"texts": [OTHER], "code": "M1", "confidence": 0.3},
    "Tell me about disarmament": {"texts": [OTHER], "code": "M5"},
    "Who handles that?": {"texts": [OTHER, "managing Belgian policy on non-proliferation"], "code": "M5"},
    "Tell me about cyber": {"texts": [OTHER], "code": "M4"},
    "And space?": {"texts": [OTHER, OTHER, OTHER, "cyber and space belong to M4"], "code": "M4",
                   "confidence": 0.6},
    "Qui gère le désarmement ?": {"texts": ["policy on non-proliferation"], "code": "M5"},
}


class ScriptedAsker:
    """Deterministic answers; records every call; raises on an unscripted question."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, int]] = []

    def ask(self, question: str, session_id: str | None = None, top_k: int = 5,
            directorate: str | None = None) -> Answer:
        self.calls.append((question, session_id, top_k))
        if question not in SCRIPT:
            raise RuntimeError("index not loaded")
        return _answer(question, session_id or f"s-{len(self.calls)}", **SCRIPT[question])


def _item(id: str, kind: str, phrases: list[str], directorates: list[str], question: str | None = None,
          turns: list[str] | None = None, language: str = "en") -> QAItem:
    return QAItem(id=id, kind=kind, question=question, turns=turns, phrases=phrases,
                  directorates=directorates, language=language)


ITEMS = [
    _item("r1", "route", ["Security Policy (M1)"], ["M1"], "What does M1 do?"),
    _item("r2", "route", ["United Nations (M2)"], ["M2"], "Who handles the UN?"),
    _item("t1", "theme", ["human rights are"], [], "Define human rights"),
    _item("o1", "out_of_scope", [], [], "How do I renew my passport?"),
    _item("o2", "out_of_scope", [], [], "What is the weather in Ghent?"),
    _item("f1", "followup", ["non-proliferation"], ["M5"],
          turns=["Tell me about disarmament", "Who handles that?"]),
    _item("f2", "followup", ["cyber and space"], ["M4"], turns=["Tell me about cyber", "And space?"]),
    _item("m1", "route", ["non-proliferation"], ["M5"], "Qui gère le désarmement ?", language="fr"),
    _item("e1", "route", ["International Governance"], ["M7"], "This call fails"),
]


@pytest.fixture(scope="module")
def report() -> EvalReport:
    return run_eval({"bm25": ScriptedAsker(), "full": ScriptedAsker()}, ITEMS, top_k=10, progress=False)


def test_run_eval_end_to_end(report: EvalReport) -> None:
    full = report.config("full")
    assert [c.name for c in report.configs] == ["bm25", "full"]
    o = full.overall  # English: everything but m1
    assert o.n == 8 and o.n_retrieval == 6 and o.n_routed == 5 and o.n_errors == 1
    # ranks of the first relevant citation: r1 1, r2 3, t1 none, f1 2, f2 4, e1 none
    assert o.hit_1 == pytest.approx(1 / 6)
    assert o.hit_3 == pytest.approx(3 / 6)
    assert o.hit_5 == pytest.approx(4 / 6)
    assert o.mrr_10 == pytest.approx((1 + 1 / 3 + 0 + 1 / 2 + 1 / 4 + 0) / 6)
    assert o.directorate_accuracy == pytest.approx(3 / 5)  # r1, f1, f2 right; r2 wrong; e1 failed
    assert o.oos_abstained == pytest.approx(1 / 2)
    assert o.in_scope_abstained == pytest.approx(1 / 6)  # t1 of r1 r2 t1 f1 f2 e1
    assert o.followup_success == pytest.approx(1 / 2)  # f1 yes; f2 relevant only at rank 4
    assert o.latency_p50_ms is not None and o.latency_p95_ms >= o.latency_p50_ms
    assert full.by_kind["route"].n == 3  # r1, r2, e1: the French route item is not among the English kinds
    assert full.by_language["fr"].n == 1 and full.by_language["fr"].directorate_accuracy == 1.0
    assert full.by_language["en"] == full.overall and report.items_by_language == {"en": 8, "fr": 1}
    assert full.by_kind["out_of_scope"].hit_3 is None  # not measured, not zero
    assert full.confusion.count("M2", "M3") == 1 and full.confusion.count("M7", "none") == 1
    assert full.confusion.count("M1", "M1") == 1 and full.confusion.count("M4", "M4") == 1
    assert full.calibration.n == 4  # routed English items that named a directorate (not e1)


def test_items_record_what_came_back(report: EvalReport) -> None:
    by_id = {r.id: r for r in report.config("full").items}
    assert by_id["r2"].relevant == [3] and by_id["r2"].directorate == "M3" and by_id["r2"].confidence == 0.8
    assert by_id["f1"].question == "Who handles that?" and by_id["f1"].turns[0] == "Tell me about disarmament"
    assert by_id["f1"].rewritten_query == "rewritten: Who handles that?"
    assert by_id["e1"].error == "RuntimeError: index not loaded" and by_id["e1"].latency_ms is None
    assert {r.id for r in report.config("full").failed()} == {"r2", "t1", "o2", "f2", "e1"}
    assert any("answered an out-of-scope" in f for f in by_id["o2"].failures)
    assert any("directorate M3 not in ['M2']" in f for f in by_id["r2"].failures)


def test_sessions_and_top_k() -> None:
    asker = ScriptedAsker()
    run_eval({"full": asker}, ITEMS[5:7], progress=False)
    (q1, s1, k1), (q2, s2, _), (q3, s3, _), (_, s4, _) = asker.calls
    assert (q1, s1, k1) == ("Tell me about disarmament", None, 10)
    assert q2 == "Who handles that?" and s2 == "s-1"  # the session the first turn returned
    assert q3 == "Tell me about cyber" and s3 is None and s4 == "s-3"  # each item starts a new session


def test_report_files_are_written(report: EvalReport, tmp_path: Path) -> None:
    written = write_report(report, tmp_path / "out")
    names = {p.name for p in written}
    assert names == {"report.json", "report.md", "metrics_by_kind.png", "confusion_full.png",
                     "calibration.png"}
    for p in written:
        assert p.stat().st_size > 0
    for png in (p for p in written if p.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["configs"][1]["overall"]["hit@3"] == pytest.approx(0.5)
    assert len(data["configs"][1]["items"]) == len(ITEMS)
    assert EvalReport.model_validate(data).config("full").overall.hit_3 == pytest.approx(0.5)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Failures" in md and "## Confusion matrix" in md and "## Routing calibration" in md
    for item_id in ("r2", "t1", "o2", "f2", "e1"):
        assert f"**{item_id}**" in md
    assert "**r1**" not in md


def test_markdown_and_tables_render(report: EvalReport) -> None:
    md = render_markdown(report)
    assert "| hit@3 | 0.500 | 0.500 |" in md
    assert "“Tell me about cyber” → “And space?”" in md
    assert "## By language" in md and "| fr | 1 |" in md
    assert [t.title for t in summary_tables(report)][1:] == ["By kind (×100)", "By language (×100)"]


# -- thresholds and the CLI function --


def test_parse_thresholds() -> None:
    assert parse_thresholds(["hit@3=0.9", " mrr@10 = 0.85"]) == {"hit@3": 0.9, "mrr@10": 0.85}
    assert parse_thresholds(["latency_p95_ms=800"], direction="over") == {"latency_p95_ms": 800.0}


@pytest.mark.parametrize(
    ("spec", "direction", "words"),
    [
        ("hit@3", None, "expected METRIC=VALUE"),
        ("hit@3=", None, "expected METRIC=VALUE"),
        ("recall@3=0.9", None, "unknown metric 'recall@3'"),
        ("hit@3=lots", None, "expected a number"),
        ("hit@3=90", None, "between 0 and 1"),
        ("in_scope_abstained=0.1", "under", "use --fail-over"),
        ("hit@3=0.9", "over", "use --fail-under"),
    ],
)
def test_parse_thresholds_errors(spec: str, direction: str | None, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_thresholds([spec], direction=direction)  # type: ignore[arg-type]


def test_check_thresholds(report: EvalReport) -> None:
    o = report.config("full").overall
    assert check_thresholds(o, {"hit@3": 0.5}, {"in_scope_abstained": 0.2}) == []
    missed = check_thresholds(o, {"hit@3": 0.9}, {"in_scope_abstained": 0.1})
    assert missed == ["hit@3 = 0.500 < 0.9 (--fail-under)", "in_scope_abstained = 0.167 > 0.1 (--fail-over)"]


def _qa_file(tmp_path: Path, items: list[QAItem]) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(i.model_dump_json(exclude_none=True) + "\n" for i in items), encoding="utf-8")
    return path


def test_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = _qa_file(tmp_path, ITEMS[:3])  # r1, r2, t1: hit@3 = 2/3
    askers = {"full": ScriptedAsker()}
    assert main(qa, askers, tmp_path / "rep", ["hit@3=0.6"], ["in_scope_abstained=0.5"], 10, True) == 0
    assert (tmp_path / "rep" / "report.md").is_file()
    assert main(qa, askers, None, ["hit@3=0.9", "directorate_accuracy=0.9"], [], 10, True) == 1
    err = capsys.readouterr().err
    assert "hit@3 = 0.667 < 0.9" in err and "directorate_accuracy = 0.500 < 0.9" in err
    assert main(qa, askers, None, ["hit@3=high"], [], 10, True) == 2
    assert "expected a number" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    assert main(bad, askers, None, [], [], 10, True) == 2
    assert "line 1" in capsys.readouterr().err


def test_main_fails_when_every_call_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = _qa_file(tmp_path, [ITEMS[-1]])
    assert main(qa, {"full": ScriptedAsker()}, None, [], [], 10, False) == 1
    captured = capsys.readouterr()
    assert "every call failed" in captured.err and "Overall" in captured.out


# -- the HTTP asker, against a mock transport --


def test_http_asker_follows_the_session(tmp_path: Path) -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        assert request.url.path == "/api/ask"
        relevant = body["session_id"] is not None
        return httpx.Response(200, json={
            "answer": "…", "abstained": False, "session_id": body["session_id"] or "sess-1",
            "rewritten_query": body["question"], "timings_ms": {"total": 2.0}, "secondary_directorate": None,
            "citations": [{"n": 1, "id": "p#1", "title": "T", "section": None, "source": None, "score": 0.5,
                           "text": "managing Belgian policy on non-proliferation" if relevant else OTHER}],
            "directorate": {"code": "M5", "name": "Disarmament", "confidence": 0.7, "evidence_id": None},
        })

    asker = HttpAsker("http://assistant.test/", timeout=5, transport=httpx.MockTransport(handler))
    report = run_eval({"http": asker}, [ITEMS[5]], progress=False)
    assert [b["session_id"] for b in seen] == [None, "sess-1"] and seen[0]["top_k"] == 10
    assert report.configs[0].overall.followup_success == 1.0


def test_http_asker_errors() -> None:
    asker = HttpAsker("http://assistant.test", transport=httpx.MockTransport(
        lambda r: httpx.Response(503, text="index is loading")))
    with pytest.raises(RemoteAskError, match="503: index is loading"):
        asker.ask("What does M1 do?")
    with pytest.raises(ValueError, match="url must start with http"):
        HttpAsker("assistant.test")


# -- the real assistant, in process and over its HTTP API --


@pytest.mark.slow
def test_real_assistant_in_process_and_over_http(assistant, settings) -> None:
    from fastapi.testclient import TestClient

    from assistant.api import create_app
    from eval.dataset import KINDS, load_qa

    dev = load_qa(Path(__file__).resolve().parents[1] / "eval" / "qa_dev.jsonl")
    items = [next(i for i in dev if i.kind == k) for k in KINDS]  # one of each kind
    with TestClient(create_app(settings, assistant)) as client:
        http = HttpAsker("http://testserver", client=client)
        report = run_eval({"in-process": assistant, "http": http}, items, progress=False)
    local, remote = report.configs
    assert local.overall.n_errors == 0 and remote.overall.n_errors == 0
    for a, b in zip(local.items, remote.items, strict=True):
        assert [c.id for c in a.citations] == [c.id for c in b.citations]
        assert (a.abstained, a.directorate, a.relevant) == (b.abstained, b.directorate, b.relevant)
    followup = next(r for r in local.items if r.kind == "followup")
    assert followup.rewritten_query and followup.session_id
