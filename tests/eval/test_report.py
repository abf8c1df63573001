"""The report: report.json, report.md and the charts are written; markdown and terminal tables render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.report import render_markdown, summary_tables, write_report
from eval.runner import EvalReport
from tests.helpers import ITEMS


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


def test_the_report_shows_the_citation_figures(tmp_path: Path) -> None:
    from eval.qrels import load_qrels
    from eval.runner import run_eval
    from tests.helpers import PAGE, QRELS, ScriptedAsker

    labels = load_qrels(QRELS, {"doc": PAGE}, ids=[i.id for i in ITEMS])
    report = run_eval({"full": ScriptedAsker()}, ITEMS, top_k=10, progress=False, qrels=labels).model_copy(
        update={"qrels": str(QRELS)})
    md = render_markdown(report)
    assert "| citation precision | 0.667 |" in md and "| citation recall | 0.625 |" in md
    assert "| citations per answer | 2.00 |" in md
    assert f"scored against the labels `{QRELS}`" in md
    assert "cit P" in md  # per language and per kind
    # A failure lists each citation with its retrieval rank, role and grade, then the related passages.
    assert "(rank 3, grade 2)" in md and "related: `doc#1` (rank 1, grade 0)" in md
    assert "not scored (no citation labels" in render_markdown(report.model_copy(update={"qrels": None}))
