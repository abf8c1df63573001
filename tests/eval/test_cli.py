"""`dgm-assistant eval`: thresholds and the job's function over scripted answers; end to end, the real index
in-process and the real service over HTTP (same figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.cli import check_thresholds, main, parse_thresholds
from eval.dataset import QAItem
from eval.runner import EvalReport
from tests.helpers import ITEMS, ROOT, ScriptedAsker

PICK = ("d-route-m1-01", "d-route-m4-01", "d-route-m00-01", "d-theme-hrspec-01", "d-oos-01", "d-oos-05",
        "d-fu-01", "d-fu-02", "d-para-03", "d-ml-fr-01")


@pytest.fixture(scope="module")
def small_qa(tmp_path_factory) -> Path:
    lines = (ROOT / "eval" / "qa_dev.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(x) for x in lines if x.strip()]
    chosen = [it for it in items if it["id"] in PICK] or items[:10]
    kinds = {it["kind"] for it in chosen}
    # Whatever the ids, keep one item of each kind so every figure is exercised.
    for it in items:
        if it["kind"] not in kinds:
            chosen.append(it)
            kinds.add(it["kind"])
    path = tmp_path_factory.mktemp("qa") / "small.jsonl"
    path.write_text("\n".join(json.dumps(it) for it in chosen) + "\n", encoding="utf-8")
    return path


def _run(args: list[str], index_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DGM_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "cli", "eval", *args], capture_output=True, text=True,
                          env=env, timeout=600)


FIGURES = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "directorate_accuracy", "oos_abstained",
           "in_scope_abstained", "followup_success")


def _overall(report: dict, config: str) -> dict:
    cfg = next(c for c in report["configs"] if c["name"] == config)
    overall = cfg["overall"]
    return {k: overall.get(k) for k in FIGURES} if isinstance(overall, dict) else overall


@pytest.mark.slow
def test_eval_in_process_compare_writes_report(small_qa, built_index, tmp_path):
    out = tmp_path / "report"
    proc = _run(["--qa", str(small_qa), "--compare", "bm25,dense,full", "--report", str(out), "-q"], built_index)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for name in ("report.json", "report.md", "metrics_by_kind.png", "confusion_full.png", "calibration.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| metric | bm25 | dense | full |" in md
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in report["configs"]] == ["bm25", "dense", "full"]
    assert "hit@3" in proc.stdout


@pytest.mark.slow
def test_eval_over_http_gives_the_same_figures(small_qa, built_index, live_server, tmp_path):
    local = _run(["--qa", str(small_qa), "--report", str(tmp_path / "local"), "-q"], built_index)
    remote = _run(["--qa", str(small_qa), "--url", live_server.url, "--report", str(tmp_path / "http"), "-q"],
                  built_index)
    assert local.returncode == 0, local.stderr + local.stdout
    assert remote.returncode == 0, remote.stderr + remote.stdout
    a = json.loads((tmp_path / "local" / "report.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "http" / "report.json").read_text(encoding="utf-8"))
    assert _overall(a, "full") == _overall(b, "http")


@pytest.mark.slow
def test_fail_under_gates_and_bad_specs_are_clear(small_qa, built_index):
    # A bound no real run meets (latency below a microsecond) must fail the gate with exit code 1.
    proc = _run(["--qa", str(small_qa), "--fail-over", "latency_p50_ms=0.001", "-q"], built_index)
    assert proc.returncode == 1 and "latency_p50_ms" in (proc.stdout + proc.stderr)
    proc = _run(["--qa", str(small_qa), "--fail-under", "hit@3=1.01"], built_index)
    assert proc.returncode == 2 and "between 0 and 1" in proc.stderr
    proc = _run(["--qa", str(small_qa), "--fail-under", "hit@3"], built_index)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = _run(["--qa", str(small_qa), "--compare", "bm25,magic"], built_index)
    assert proc.returncode == 2 and "magic" in proc.stderr and "Traceback" not in proc.stderr


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
