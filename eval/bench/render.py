"""bench.md, the PNG charts and the console table from a `BenchReport`; the report's prose is in prose.md."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .machine import MATMUL_SIZE, REFERENCE_ROUNDS
from .results import QUALITY_FIGURES, STAGES, BenchReport, Machine
from .targets import HTTP_TARGET_LEVEL, RECALL_TARGET

if TYPE_CHECKING:
    from rich.table import Table

PROSE_FILE = Path(__file__).with_name("prose.md")


@functools.cache
def _paragraphs() -> dict[str, str]:
    """prose.md's paragraphs by name: the lines under each ``## name`` heading, joined with single spaces."""
    paragraphs: dict[str, list[str]] = {}
    lines: list[str] | None = None  # the text before the first heading describes the file
    for line in PROSE_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            lines = paragraphs.setdefault(line[3:].strip(), [])
        elif lines is not None and line.strip():
            lines.append(line.strip())
    return {name: " ".join(words) for name, words in paragraphs.items()}


def prose(name: str, **fields: object) -> str:
    """The paragraph ``name`` of prose.md with its ``{field}`` figures filled in."""
    try:
        text = _paragraphs()[name]
    except KeyError:
        raise KeyError(f"no paragraph {name!r} in {PROSE_FILE}; it has {', '.join(_paragraphs())}") from None
    return text.format(**fields)


def _f(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def _reference_lines(m: Machine) -> list[str]:
    """The machine-speed paragraph, once the reference was timed at both ends of the run."""
    lines = []
    if len(m.reference_ms) == 2:
        start, end = m.reference_ms
        lines += [prose("machine-speed", start=start, end=end, rounds=REFERENCE_ROUNDS), ""]
    if len(m.matmul_gflops) == 2:
        start, end = m.matmul_gflops
        lines += [prose("machine-flops", start=start, end=end, n=MATMUL_SIZE, rounds=REFERENCE_ROUNDS), ""]
    return lines


def render_markdown(r: BenchReport) -> str:
    """bench.md: the run, the targets, then a section per measured part, the notes and the errors."""
    m = r.machine
    out = ["# Benchmark of the DGM Assistant", "",
           prose("run", created=r.created, seconds=f"{r.seconds:.0f}", cpu_model=m.cpu_model, cores=m.cores,
                 memory_gib=m.memory_gib, os=m.os, python=m.python, load_start=m.load_avg_start,
                 load_end=m.load_avg_end, steal=_f(m.steal_pct, 1), backend=r.default_backend,
                 repeats=r.repeats), "",
           *_reference_lines(m),
           "Versions: " + ", ".join(f"{k} {v}" for k, v in m.packages.items()), ""]
    out += ["## Targets", "", "| figure | target | measured | met | from |", "|---|---|---|---|---|"]
    for t in r.targets:
        met = "–" if t.met is None else ("yes" if t.met else "**no**")
        out.append(f"| {t.name} | {t.target} {t.unit} | {_f(t.measured)} {t.unit} | {met} | {t.source} |")
    if r.inprocess:
        out += ["", "## In-process answers (`Assistant.ask`, ms)", "",
                prose("inprocess-intro", questions=r.inprocess[0].questions), "",
                "| backend | p50 | p95 | p99 | " + " | ".join(f"{s} p50" for s in STAGES)
                + " | CPU p50 | warm-cache p50 |", "|---|---|---|---|" + "---|" * len(STAGES) + "---|---|"]
        for ip in r.inprocess:
            out.append(f"| {ip.variant} | {_f(ip.total.p50)} | {_f(ip.total.p95)} | {_f(ip.total.p99)} | "
                       + " | ".join(_f(ip.stages[s].p50, 3) for s in STAGES)
                       + f" | {_f(ip.cpu.p50)} | {_f(ip.warm_cache_total.p50)} |")
        out += ["", prose("inprocess-cpu")]
    if r.threads:
        out += ["", "## Embedding by thread count", "",
                "| backend | threads | query p50 ms | query p95 ms | batch chunks/s | batch of 8, ms per query |",
                "|---|---|---|---|---|---|"]
        for th in r.threads:
            out.append(f"| {th.variant} | {th.threads} | {_f(th.query.p50)} | {_f(th.query.p95)} | "
                       f"{_f(th.batch_chunks_per_s, 0)} | {_f(th.batch8_ms_per_query)} |")
    if r.quality:
        out += ["", "## Answer quality per backend (evaluation figures, overall English items, top 10)", "",
                "| backend | Q&A | n | " + " | ".join(QUALITY_FIGURES) + " |",
                "|---|---|---|" + "---|" * len(QUALITY_FIGURES)]
        for q in r.quality:
            out.append(f"| {q.variant} | {q.qa} | {q.n} | " + " | ".join(_f(q.figures.get(k), 3)
                                                                      for k in QUALITY_FIGURES) + " |")
    if r.build:
        out += ["", "## Build", "",
                "| backend | model load s | ONNX export s | shipped corpus | shipped build s | synthetic chunks "
                "| synthetic builds | synthetic build s | chunks/s | chunks per CPU-s |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for b in r.build:
            out.append(f"| {b.variant} | {_f(b.model_load_s)} | {_f(b.export_s)} | {b.shipped_chunks} | "
                       f"{_f(b.shipped_s)} | {b.synthetic_chunks} | {b.synthetic_runs} | {_f(b.synthetic_s)} | "
                       f"{_f(b.chunks_per_s, 0)} | "
                       f"{_f(b.chunks_per_cpu_s, 0)} |")
        out += ["", prose("build")]
    for h in r.http:
        workers = f"{h.workers} worker{'s' if h.workers > 1 else ''}"
        tools = sorted({lv.tool for lv in h.levels}) or ["–"]
        out += ["", f"## HTTP /api/ask, {h.variant} backend ({workers}, {h.model_threads} model threads each, "
                    f"conversations in {h.sessions})", ""]
        if h.error:
            out += [f"Not measured: {h.error}"]
            continue
        out += [prose("http-intro", cold_median=_f(h.cold_start_median_s),
                      cold_runs=", ".join(_f(c) for c in h.cold_start_s), ready_rss=_f(h.ready_rss_mib, 0),
                      peak_rss=_f(h.peak_rss_mib, 0), tools=", ".join(tools), steal=_f(h.steal_pct, 1)), "",
                "| concurrency | questions | requests | errors | answers/s | p50 ms | p95 ms | p99 ms | "
                "service CPU ms/answer | client CPU ms/answer |", "|---" * 10 + "|"]
        for lv in h.levels:
            kind = "repeated (cache)" if lv.cached else "unique"
            out.append(f"| {lv.concurrency} | {kind} | {lv.requests} | {lv.errors} | {_f(lv.answers_per_s, 0)} | "
                       f"{_f(lv.latency.p50)} | {_f(lv.latency.p95)} | {_f(lv.latency.p99)} | "
                       f"{_f(lv.server_cpu_ms)} | {_f(lv.client_cpu_ms)} |")
        top = next((lv for lv in h.levels if lv.concurrency == HTTP_TARGET_LEVEL and not lv.cached), None)
        if top and top.server_cpu_ms:
            out += ["", prose("http-capacity", level=HTTP_TARGET_LEVEL, cpu_ms=f"{top.server_cpu_ms:.1f}",
                              cores=m.cores, capacity=f"{m.cores * 1000 / top.server_cpu_ms:.0f}")]
    if r.soak is not None:
        k = r.soak
        out += ["", f"## Soak ({k.workers} worker{'s' if k.workers > 1 else ''}, {k.concurrency} clients, unique "
                    f"questions, {k.tool})", ""]
        out += [f"Not measured: {k.error}"] if k.error else [
            "| seconds | requests | errors | answers/s | p99 ms | RSS start MiB | RSS end MiB | RSS peak MiB | "
            "drift MiB | drift in the second half MiB | alive |", "|---" * 11 + "|",
            f"| {_f(k.seconds, 0)} | {k.requests} | {k.errors} | {_f(k.answers_per_s, 0)} | {_f(k.p99_ms)} | "
            f"{_f(k.rss_start_mib, 0)} | {_f(k.rss_end_mib, 0)} | {_f(k.rss_peak_mib, 0)} | {_f(k.rss_drift_mib, 1)} "
            f"| {_f(k.rss_drift_second_half_mib, 1)} | {'yes' if k.alive else '**no**'} |"]
    if r.scale_vectors:
        out += ["", "## Scale: FAISS", "", f"Synthetic vectors: {r.scale_vectors[0].generator}.", "",
                "| chunks | index | build s (train + add) | index MiB | peak RSS MiB | exact p50 ms | nprobe | "
                "p50 ms | p95 ms | recall@10 | neighbour cos 1st/10th |", "|---" * 11 + "|"]
        for s in r.scale_vectors:
            out.append(f"| {s.n:,} | {s.index} | {_f(s.train_s + s.add_s, 1)} ({_f(s.train_s, 1)} + {_f(s.add_s, 1)}) "
                       f"| {_f(s.index_mib, 0)} | {_f(s.peak_rss_mib, 0)} | {_f(s.flat_search.p50)} | {s.nprobe} | "
                       f"{_f(s.search.p50)} | {_f(s.search.p95)} | {_f(s.recall_at_10, 3)} | "
                       f"{s.neighbour_cosine['1st']}/{s.neighbour_cosine['10th']} |")
        out += ["", "nprobe sweep (p50 ms / recall@10): " + "; ".join(
            f"{s.n:,}: " + ", ".join(f"{p.nprobe}: {p.p50_ms:.2f}/{p.recall:.3f}" for p in s.sweep)
            for s in r.scale_vectors)]
    if r.scale_bm25:
        out += ["", "## Scale: BM25 (bm25s, the project's tokenizer)", "",
                "| docs | words/doc | vocabulary | build s | index MiB (on disk) | peak RSS MiB | query p50 ms | "
                "query p95 ms |", "|---|---|---|---|---|---|---|---|"]
        for sb in r.scale_bm25:
            out.append(f"| {sb.n:,} | {sb.words_per_doc} | {sb.vocabulary:,} (Zipf) | {_f(sb.build_s, 1)} | "
                       f"{_f(sb.index_mib, 0)} | {_f(sb.peak_rss_mib, 0)} | {_f(sb.query.p50)} | "
                       f"{_f(sb.query.p95)} |")
    if r.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in r.notes]
    if r.errors:
        out += ["", "## Errors", ""] + [f"- {e}" for e in r.errors]
    return "\n".join(out) + "\n"


def write_reports(report: BenchReport, out_dir: Path) -> list[Path]:
    """bench.json (the report as data) and bench.md (`render_markdown` of it) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "bench.json", out_dir / "bench.md"]
    paths[0].write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(report), encoding="utf-8")
    return paths


def write_plots(report: BenchReport, out_dir: Path) -> list[Path]:
    """PNG charts: in-process stages, HTTP latency and throughput by concurrency, scale recall/latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if report.inprocess:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = [ip.variant for ip in report.inprocess]
        left = np.zeros(len(names))
        for s in STAGES:
            vals = np.array([ip.stages[s].p50 or 0.0 for ip in report.inprocess])
            ax.barh(names, vals, left=left, label=s)
            left += vals
        ax.scatter([ip.total.p95 or 0 for ip in report.inprocess], names, marker="|", s=300, color="k",
                   label="total p95")
        ax.set_xlabel("ms (stage p50s stacked)")
        ax.set_title(f"In-process answer latency ({report.machine.cores} cores)")
        ax.legend(fontsize=7, ncol=3)
        fig.tight_layout()
        written.append(out_dir / "bench_inprocess.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    good = [h for h in report.http if not h.error and h.levels]
    if good:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
        for h in good:
            lv = [x for x in h.levels if not x.cached]
            c = [x.concurrency for x in lv]
            name = f"{h.variant}, {h.workers}w" + (" + Redis" if h.sessions == "redis" else "")
            a1.plot(c, [x.latency.p50 for x in lv], "o-", label=f"{name} p50")
            a1.plot(c, [x.latency.p99 for x in lv], "x--", label=f"{name} p99")
            a2.plot(c, [x.answers_per_s for x in lv], "o-", label=name)
        a1.set_xlabel("concurrency")
        a1.set_ylabel("ms")
        a1.set_xscale("log", base=2)
        a1.legend(fontsize=7)
        a1.set_title("/api/ask latency")
        a2.set_xlabel("concurrency")
        a2.set_ylabel("answers/s")
        a2.set_xscale("log", base=2)
        a2.axhline(300, color="grey", lw=0.8, ls=":")
        a2.legend(fontsize=7)
        a2.set_title("throughput")
        fig.tight_layout()
        written.append(out_dir / "bench_http.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    if report.scale_vectors:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for sv in report.scale_vectors:
            ax.plot([p.p50_ms for p in sv.sweep], [p.recall for p in sv.sweep], "o-", label=f"{sv.n:,} ({sv.index})")
            for p in sv.sweep:
                ax.annotate(str(p.nprobe), (p.p50_ms, p.recall), fontsize=6)
        ax.axhline(RECALL_TARGET, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("search p50 ms (1 thread)")
        ax.set_ylabel("recall@10")
        ax.set_title("IVF: recall vs latency by nprobe")
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(out_dir / "bench_scale.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def summary_table(report: BenchReport) -> Table:
    """The targets as a rich table, for the console."""
    from rich.table import Table

    table = Table(title=f"bench: {report.machine.cpu_model}, {report.machine.cores} cores "
                        f"(default backend {report.default_backend})")
    for col in ("figure", "target", "measured", "met", "from"):
        table.add_column(col)
    for t in report.targets:
        met = "–" if t.met is None else ("[green]yes[/]" if t.met else "[red]no[/]")
        table.add_row(t.name, f"{t.target} {t.unit}", f"{_f(t.measured)} {t.unit}", met, t.source)
    return table


def default_notes(report: BenchReport) -> list[str]:
    """The notes a report carries (bench.json's ``notes``): how to read its figures, and what they leave out."""
    notes = [prose(name) for name in ("note-same-machine", "note-unique-questions", "note-int8",
                                      "note-load-generator")]
    multi = [h for h in report.http if h.workers > 1 and not h.error]
    if multi:
        shared = prose("note-workers-redis" if multi[0].sessions == "redis" else "note-workers-memory")
        notes.append(prose("note-workers", workers=multi[0].workers, sessions=shared))
    int8_threads = {t.threads: t for t in report.threads if t.variant == "onnx-int8"}
    if 1 in int8_threads:
        one = int8_threads[1]
        notes.append(prose("note-micro-batching", batch8=f"{one.batch8_ms_per_query:.2f}", single=_f(one.query.p50)))
    if report.scale_vectors:
        notes.append(prose("note-scale-vectors"))
        big = max(report.scale_vectors, key=lambda r: r.n)
        p32 = next((p for p in big.sweep if p.nprobe == 32), None)
        if big.nprobe <= 2 and p32 is not None:
            notes.append(prose("note-scale-dense", n=f"{big.n:,}", per_subtopic=big.n // 100_000, nprobe=big.nprobe,
                               p50=f"{p32.p50_ms:.2f}", recall=f"{p32.recall:.3f}"))
    if report.scale_bm25:
        notes.append(prose("note-scale-bm25"))
    return notes
