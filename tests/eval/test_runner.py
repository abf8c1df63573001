"""The runner: routing, retrieval and abstention figures over scripted answers, sessions, the HTTP asker against a
mock transport, and the real assistant in process and over its HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from eval.runner import EvalReport, HttpAsker, RemoteAskError, run_eval
from tests.helpers import ITEMS, OTHER, ROOT, ScriptedAsker


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


@pytest.mark.slow
def test_real_assistant_in_process_and_over_http(assistant, settings) -> None:
    from fastapi.testclient import TestClient

    from assistant.api import create_app
    from eval.dataset import KINDS, load_qa

    dev = load_qa(ROOT / "eval" / "qa_dev.jsonl")
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
