"""Render an `EvalReport`: rich tables for the terminal, report.json, report.md and PNG charts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .dataset import KINDS
from .runner import METRICS, CitationRecord, ConfigReport, EvalReport, ItemResult, MetricSet

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.table import Table

OVERALL = "overall"  # the English items together
# Column headings of the per-kind tables, in order.
_KIND_COLUMNS = {"hit@1": "hit@1", "hit@3": "hit@3", "hit@5": "hit@5",
                 "mrr@10": "MRR@10", "ndcg@10": "nDCG@10",
                 "citation_precision": "cit P", "citation_recall": "cit R", "citations_per_answer": "cit/ans",
                 "directorate_accuracy": "dir acc", "in_scope_abstained": "in-scope abst",
                 "oos_abstained": "oos abst", "followup_success": "follow-up",
                 "latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms"}


def fmt(metric: str, value: float | None) -> str:
    """A figure for display: rates with 3 decimals, latencies with 1, "–" when not measured."""
    if value is None:
        return "–"
    info = METRICS[metric]
    digits = info.decimals if info.decimals is not None else (3 if info.is_rate else 1)
    return f"{value:.{digits}f}"


def _groups(config: ConfigReport) -> list[tuple[str, MetricSet]]:
    return [(OVERALL, config.overall)] + [(k, config.by_kind[k]) for k in KINDS if k in config.by_kind]


def _best(metric: str, values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return None
    return max(present) if METRICS[metric].higher_is_better else min(present)


# -- Terminal --

def summary_tables(report: EvalReport) -> list[Table]:
    """Two rich tables: every figure overall (configurations side by side), then a compact one per kind."""
    from rich import box
    from rich.table import Table

    names = [c.name for c in report.configs]
    overall = Table(title=f"Overall (English items, n={report.configs[0].overall.n})", title_justify="left")
    overall.add_column("metric")
    for name in names:
        overall.add_column(name, justify="right")
    for metric, info in METRICS.items():
        values = [c.overall.value(metric) for c in report.configs]
        best = _best(metric, values)
        overall.add_row(info.label, *[f"[bold green]{fmt(metric, v)}[/]" if v is not None and v == best
                                      else fmt(metric, v) for v in values])
    overall.add_row("errors", *[str(c.overall.n_errors) for c in report.configs])

    by_kind = Table(title="By kind (×100)", title_justify="left",
                    caption="h@3 hit@3 · mrr MRR@10 · dir directorate accuracy · abs share abstained "
                            "(wanted high on out_of_scope only) · – not measured",
                    box=box.SIMPLE_HEAD, collapse_padding=True)
    by_kind.add_column("kind (n)", no_wrap=True)
    for name in names:
        by_kind.add_column(f"{name}\nh@3 mrr dir abs", no_wrap=True)
    for group, ms in _groups(report.configs[0]):
        cells = []
        for config in report.configs:
            m = config.overall if group == OVERALL else config.by_kind[group]
            abst = m.oos_abstained if group == "out_of_scope" else m.in_scope_abstained
            cells.append(" ".join(_short(v) for v in (m.hit_3, m.mrr_10, m.directorate_accuracy, abst)))
        by_kind.add_row(f"{group} [dim]({ms.n})[/]", *cells)
    by_language = Table(title="By language (×100)", title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
    by_language.add_column("language (n)", no_wrap=True)
    for name in names:
        by_language.add_column(f"{name}\nh@3 mrr dir oos ins citP citR", no_wrap=True)
    for lang, ms in report.configs[0].by_language.items():
        cells = []
        for config in report.configs:
            m = config.by_language[lang]
            cells.append(" ".join(_short(v) for v in (m.hit_3, m.mrr_10, m.directorate_accuracy, m.oos_abstained,
                                                      m.in_scope_abstained, m.citation_precision,
                                                      m.citation_recall)))
        by_language.add_row(f"{lang} [dim]({ms.n})[/]", *cells)
    return [overall, by_kind, by_language]


def _short(value: float | None) -> str:
    """A share as a percentage in three characters, for the compact table."""
    return "  –" if value is None else f"{value * 100:3.0f}"


# -- Markdown --

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align_right_from: int = 1) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join("---" if i < align_right_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _describe_failure(r: ItemResult) -> list[str]:
    asked = " → ".join(f"“{t}”" for t in r.turns)
    lines = [f"- **{r.id}** ({r.kind}): {asked}",
             f"  - why: {'; '.join(r.failures)}",
             f"  - expected: phrases {r.phrases or '[]'}; directorates {r.directorates or '[] (not scored)'}"]
    pred = r.directorate or "none"
    if r.confidence is not None:
        pred += f" ({r.confidence:.2f})"
    got = f"abstained={r.abstained}; directorate {pred}"
    if r.secondary_directorate:
        got += f", secondary {r.secondary_directorate}"
    if r.rewritten_query and r.rewritten_query != r.question:
        got += f"; rewritten query “{r.rewritten_query}”"
    if r.error:
        got += f"; error {r.error}"
    lines.append(f"  - got: {got}")
    for n, c in enumerate(r.citations, start=1):
        lines.append(f"  - [{n}] {_passage_line(c)}")
    if not r.citations:
        lines.append("  - no citations")
    for c in r.related[:2]:
        lines.append(f"  - related: {_passage_line(c)}")
    return lines


def _passage_line(c: CitationRecord) -> str:
    snippet = " ".join(c.text.split())
    snippet = snippet[:80] + ("…" if len(snippet) > 80 else "")
    marks = [f"rank {c.rank}"] if c.rank else []
    if c.role == "remit":
        marks.append("remit")
    if c.grade is not None:
        marks.append(f"grade {c.grade}")
    return f"`{c.id}` ({', '.join(marks)}){' ✓' if c.relevant else ''}: {snippet}"


def _citation_note(report: EvalReport) -> str:
    if report.qrels is None:
        return "not scored (no citation labels for this Q&A file)."
    return (f"scored against the labels `{report.qrels}`: a citation is relevant when its passage holds most of a "
            "labelled quote of its page; precision = share of the citations shown that are relevant (answers "
            "with citations), recall = share of the labelled quotes that a citation holds (labelled items), "
            "citations per answer over the answers given.")


def render_markdown(report: EvalReport, charts: Sequence[str] = ()) -> str:
    """The report as Markdown: figures per configuration and kind, calibration, confusion, every failure."""
    names = [c.name for c in report.configs]
    out = ["# DGM Assistant evaluation", "",
           f"- Q&A file: `{report.qa or '(in memory)'}`; {report.n_items} items "
           f"({', '.join(f'{k} {n}' for k, n in report.items_by_kind.items())})",
           f"- Configurations: {', '.join(names)} (thresholds are checked on **{names[-1]}**)",
           f"- Passages retrieved per answer (cited or related): {report.top_k}; run at {report.created}",
           "- *Overall* and *by kind* = the English items; *by language* = every item in each language. "
           "Ranking figures cover items with "
           "expected phrases and read every passage shown, cited or related, in retrieval order; an in-scope "
           "item fails when no phrase is in its top 3 passages, when it abstains, or when its directorate is "
           "wrong.",
           f"- Citations: {_citation_note(report)}", ""]
    out += ["## Overall (English)", ""]
    rows = [[info.label, *[fmt(m, c.overall.value(m)) for c in report.configs]]
            for m, info in METRICS.items()]
    rows.append(["items / errors", *[f"{c.overall.n} / {c.overall.n_errors}" for c in report.configs]])
    out += _table(["metric", *names], rows)
    for chart in charts:
        out += [f"![{chart}]({chart})", ""]

    out += ["## By language", ""]
    for config in report.configs:
        out += [f"### {config.name}", ""]
        rows = [[lang, str(m.n), *[fmt(k, m.value(k)) for k in _KIND_COLUMNS]]
                for lang, m in config.by_language.items()]
        out += _table(["language", "n", *_KIND_COLUMNS.values()], rows)

    out += ["## By kind (English)", ""]
    for config in report.configs:
        out += [f"### {config.name}", ""]
        rows = [[g, str(m.n), *[fmt(k, m.value(k)) for k in _KIND_COLUMNS]] for g, m in _groups(config)]
        out += _table(["kind", "n", *_KIND_COLUMNS.values()], rows)

    out += ["## Routing calibration", "",
            "Directorate confidence in ten bins against the share routed correctly, over the scored English "
            "items that named a directorate. ECE = expected calibration error (lower is better).", ""]
    for config in report.configs:
        cal = config.calibration
        out += [f"### {config.name} — ECE {'–' if cal.ece is None else f'{cal.ece:.3f}'} (n={cal.n})", ""]
        rows = [[f"{b.lo:.1f}–{b.hi:.1f}", str(b.n),
                 "–" if b.mean_confidence is None else f"{b.mean_confidence:.3f}",
                 "–" if b.accuracy is None else f"{b.accuracy:.3f}"] for b in cal.bins]
        out += _table(["confidence", "n", "mean confidence", "accuracy"], rows)

    out += ["## Confusion matrix", "", "Rows: expected directorate (the predicted code when it is accepted, "
            "else the first accepted one); columns: predicted (\"none\" = no directorate or abstained). "
            "English items with a scored directorate.", ""]
    for config in report.configs:
        cm = config.confusion
        out += [f"### {config.name}", ""]
        rows = [[e, *[str(n) if n else "·" for n in row]]
                for e, row in zip(cm.labels[:-1], cm.counts[:-1], strict=True)]  # nothing expects "none"
        out += _table(["expected \\ predicted", *cm.labels], rows)

    out += ["## Failures", "", f"Every failed item, {names[-1]} first.", ""]
    for config in [report.configs[-1], *report.configs[:-1]]:
        failed = config.failed()
        out += [f"### {config.name} — {len(failed)} of {len(config.items)} items", ""]
        for r in failed:
            out += _describe_failure(r)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# -- Charts (matplotlib's object API with the Agg canvas: no pyplot, no global backend switch) --

def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_metrics_by_kind(report: EvalReport, path: Path) -> Path:
    """Grouped bars per kind (configurations side by side) for hit@3, MRR@10 and directorate accuracy."""
    panels = [("hit@3", "hit@3 (retrieval)"), ("mrr@10", "MRR@10 (retrieval)"),
              ("directorate_accuracy", "directorate accuracy (routing)")]
    groups = [g for g, _ in _groups(report.configs[0]) if g != "out_of_scope"]
    fig = _figure(11, 9)
    axes = fig.subplots(len(panels), 1, sharex=True)
    width = 0.8 / len(report.configs)
    colours = [f"C{i}" for i in range(len(report.configs))]
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for i, config in enumerate(report.configs):
            values = [(config.overall if g == OVERALL else config.by_kind[g]).value(metric) for g in groups]
            xs = [j + (i - (len(report.configs) - 1) / 2) * width for j in range(len(groups))]
            bars = ax.bar(xs, [v if v is not None else 0.0 for v in values], width, label=config.name,
                          color=colours[i])
            ax.bar_label(bars, labels=["" if v is None else f"{v:.2f}" for v in values],
                         fontsize=7, padding=1)
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_ylim(0, 1.12)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    sizes = dict(_groups(report.configs[0]))
    axes[-1].set_xticks(range(len(groups)), [f"{g}\n(n={sizes[g].n})" for g in groups])
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    oos = [c.by_kind["out_of_scope"].oos_abstained for c in report.configs if "out_of_scope" in c.by_kind]
    note = ""
    if oos:
        note = "out_of_scope abstained: " + ", ".join(
            f"{c.name} {fmt('oos_abstained', v)}" for c, v in zip(report.configs, oos, strict=False))
    fig.suptitle(f"Metrics by kind (overall = English items)\n{note}", fontsize=12)
    fig.savefig(path)
    return path


def plot_confusion(config: ConfigReport, path: Path) -> Path:
    """Heatmap of expected vs predicted directorate, counts written in the cells."""
    import numpy as np

    labels = config.confusion.labels
    cm = np.asarray(config.confusion.counts)
    rows = labels[:-1]  # the last label is "none", which is never expected: no empty bottom row
    cm = cm[: len(rows)]
    fig = _figure(8, 7)
    ax = fig.subplots()
    image = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted directorate")
    ax.set_ylabel("expected directorate")
    threshold = cm.max() / 2 if cm.size and cm.max() else 1
    for (i, j), n in np.ndenumerate(cm):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=9,
                    color="white" if n > threshold else "black")
    acc = config.overall.directorate_accuracy
    ax.set_title(f"Routing confusion — {config.name} (accuracy {fmt('directorate_accuracy', acc)}, "
                 f"n={config.overall.n_routed})", fontsize=11)
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(image, ax=ax, shrink=0.8, label="items")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    fig.savefig(path)
    return path


def plot_calibration(report: EvalReport, path: Path) -> Path:
    """Reliability diagram: accuracy against mean confidence per bin, one line per configuration."""
    fig = _figure(8, 8)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    n_bins = len(report.configs[0].calibration.bins)
    width = 1 / n_bins / (len(report.configs) + 1)
    for i, config in enumerate(report.configs):
        cal = config.calibration
        pts = [(b.mean_confidence, b.accuracy) for b in cal.bins if b.n]
        ece = "–" if cal.ece is None else f"{cal.ece:.3f}"
        top.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=f"C{i}",
                 label=f"{config.name} (ECE {ece}, n={cal.n})")
        bottom.bar([b.lo + (i + 0.5) * width for b in cal.bins], [b.n for b in cal.bins], width,
                   color=f"C{i}", align="edge", label=config.name)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.set_ylabel("share routed correctly")
    top.set_title("Routing confidence calibration (reliability diagram)", loc="left")
    top.legend(loc="lower right", frameon=False)
    top.grid(alpha=0.3)
    bottom.set_xlabel("stated directorate confidence")
    bottom.set_ylabel("items")
    bottom.set_xticks([b / n_bins for b in range(n_bins + 1)])
    bottom.grid(axis="y", alpha=0.3)
    fig.savefig(path)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "config"


def write_report(report: EvalReport, out_dir: Path) -> list[Path]:
    """Write report.json, report.md and the charts into `out_dir` (created if missing).

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    full = report.configs[-1]
    charts = [
        plot_metrics_by_kind(report, out_dir / "metrics_by_kind.png"),
        plot_confusion(full, out_dir / f"confusion_{_safe(full.name)}.png"),
        plot_calibration(report, out_dir / "calibration.png"),
    ]
    json_path = out_dir / "report.json"
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    md_path = out_dir / "report.md"
    md_path.write_text(render_markdown(report, charts=[p.name for p in charts]), encoding="utf-8")
    return [json_path, md_path, *charts]
