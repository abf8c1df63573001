"""`dgm-assistant bench` as a plain function: run the sections, compare with the targets, write the report."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .load import HTTP_LEVELS, load_tool
from .machine import StealMeter, machine_info, matmul_gflops, reference_ms
from .procs import redis_server
from .render import default_notes, summary_table, write_plots, write_reports
from .results import BenchReport
from .scale import SCALE_SIZES, scale_bm25, scale_vectors
from .sections import (
    SYNTHETIC_BUILD_CHUNKS,
    VARIANTS,
    backend_of,
    bench_build,
    bench_http,
    bench_inprocess,
    bench_quality,
    bench_threads,
    make_variant_embedder,
    model_variant,
    qa_paths,
    qa_questions,
    served_backends,
    variant_settings,
)
from .soak import SOAK_CONCURRENCY, SOAK_S, bench_soak
from .targets import HTTP_TARGET_LEVEL, check_targets

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.config import Settings

log = logging.getLogger(__name__)
R = TypeVar("R", bound=BaseModel)


def default_out_dir() -> Path:
    """Where `main` writes its report unless told: ``$XDG_CACHE_HOME/dgm-assistant/bench``, by default
    ``~/.cache/dgm-assistant/bench``. Outside the repository, so that a run never overwrites the committed
    eval/reports; committing a run's figures is a choice made with ``--out eval/reports``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dgm-assistant" / "bench"


def main(settings: Settings, out_dir: Path | None = None, scale: bool = False, plot: bool = False,
         http: bool = True, repeats: int = 3, console: Console | None = None, *,
         compare_models: Sequence[str] = (), variants: Sequence[str] = VARIANTS,
         synthetic: int = SYNTHETIC_BUILD_CHUNKS,
         max_questions: int | None = None, http_levels: Sequence[int] = HTTP_LEVELS,
         scale_sizes: Sequence[int] = SCALE_SIZES, soak_s: int = SOAK_S) -> int:
    """Run the benchmark, print a table, write bench.json and bench.md (and PNGs with ``plot``) to ``out_dir``.

    Args:
        settings: the configuration; its ``embedding_backend`` is the default whose figures meet the targets.
        out_dir: where the report goes; None: `default_out_dir()`, outside the repository (the committed
            report is eval/reports, written only when asked for).
        scale: also run the 100k / 1M synthetic corpora (a few minutes, a few GiB of memory).
        plot: also write bench_*.png.
        http: start `dgm-assistant serve` and measure it over HTTP.
        soak_s: with ``http``, seconds of steady load on the default backend (requests, errors, RSS drift);
            0 leaves the soak out.
        repeats: runs per measurement; reports give the median.
        console: a rich console to print progress and the table to (None: a new one on standard output).
        compare_models: other embedding models measured in the same run beside the settings' one, with the
            default backend (variant ``<model>:<backend>``), served over HTTP like it.
        variants, synthetic, max_questions, http_levels, scale_sizes: smaller runs (tests); the defaults are the
            full benchmark.

    Returns:
        0 when every section ran, 1 when one failed (its error is in the report).
    """
    from rich.console import Console

    from assistant.factory import load_assistant

    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f"variants must be among {', '.join(VARIANTS)}, got {list(variants)}")
    others = [model_variant(m, settings.embedding_backend) for m in compare_models if m != settings.embedding_model]
    variants = [*variants, *others]
    out_dir = default_out_dir() if out_dir is None else Path(out_dir)
    console = console or Console()
    t_start = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    steal = StealMeter()
    report = BenchReport(created=datetime.now(UTC).isoformat(timespec="seconds"), machine=machine_info(),
                         default_backend=settings.embedding_backend, repeats=repeats)
    questions = qa_questions(qa_paths())[:max_questions]
    work = Path(tempfile.mkdtemp(prefix="dgm-bench-"))
    console.print(f"bench: {report.machine.cpu_model}, {report.machine.cores} cores, load "
                  f"{report.machine.load_avg_start}; {len(questions)} questions; work folder {work}",
                  highlight=False)
    try:
        for variant in variants:
            vs = variant_settings(settings, variant, work)
            try:
                console.print(f"[bold]{variant}[/]: build", highlight=False)
                # The build target is the default backend's: its synthetic build is repeated like every
                # other figure; the slower backends build once, for comparison (the run stays in 10 minutes).
                report.build.append(bench_build(vs, variant, synthetic,
                                                runs=repeats if variant == settings.embedding_backend else 1))
                embedder = make_variant_embedder(vs, variant, for_build=False)
                assistant = load_assistant(vs, embedder=embedder)
                console.print(f"[bold]{variant}[/]: in-process answers", highlight=False)
                report.inprocess.append(bench_inprocess(assistant, variant, questions, repeats, vs.top_k))
                console.print(f"[bold]{variant}[/]: answer quality", highlight=False)
                report.quality.extend(bench_quality(assistant, variant, qa_paths(), max_items=max_questions))
                console.print(f"[bold]{variant}[/]: threads", highlight=False)
                passages = [c.embedding_text() for c in assistant.engine.index.chunks]
                passages = (passages * (128 // max(1, len(passages)) + 1))[:128]
                report.threads.extend(bench_threads(vs, variant, questions, passages))
                del assistant, embedder
            except Exception as exc:  # noqa: BLE001 - one failing section must not lose the others
                log.exception("bench of %s failed", variant)
                report.errors.append(f"{variant}: {type(exc).__name__}: {exc}")
        if http:
            # The default backend, and torch (the reference) to compare; the fp32 ONNX export sits between them
            # in-process, and serving it too would take the run past ten minutes.
            served = [b for b in served_backends() if b in variants and b in (settings.embedding_backend, "torch")]
            for backend in [*served, *others]:
                vs = variant_settings(settings, backend, work)
                if not (vs.index_dir / "manifest.json").exists():
                    report.errors.append(f"http {backend}: no index was built")
                    continue
                # The default backend is also served by one worker per core: each process has its own GIL.
                cores = os.cpu_count() or 1
                worker_counts = [1] + ([cores] if backend_of(backend) == settings.embedding_backend and cores > 1
                                       else [])
                for workers in worker_counts:
                    # The other backends are compared at the two target levels only (keeps the run short).
                    levels = (http_levels if backend == settings.embedding_backend
                              else [c for c in http_levels if c in (1, HTTP_TARGET_LEVEL)] or http_levels)
                    # Several workers need shared conversations (a follow-up may reach another worker), so they
                    # are measured as deployed: with sessions in a Redis server on loopback, when one is installed.
                    with redis_server(work) if workers > 1 else contextlib.nullcontext() as session_url:
                        sessions = "redis" if session_url else "memory"
                        console.print(f"[bold]{backend}[/]: HTTP, {workers} worker(s), sessions in {sessions} "
                                      f"(cold start x{repeats}, load, {load_tool()})", highlight=False)
                        res = bench_http(vs.model_copy(update={"workers": workers, "session_url": session_url}),
                                         backend, questions, repeats, work, levels=levels, console=console)
                    if res.error:
                        report.errors.append(f"http {backend}, {workers} worker(s): {res.error}")
                    report.http.append(res)
        if http and soak_s > 0:
            vs = variant_settings(settings, settings.embedding_backend, work)
            if (vs.index_dir / "manifest.json").exists():
                console.print(f"[bold]{settings.embedding_backend}[/]: soak, {soak_s} s at {SOAK_CONCURRENCY} "
                              "clients", highlight=False)
                report.soak = bench_soak(vs, questions, work, seconds=soak_s)
                if report.soak.error:
                    report.errors.append(f"soak: {report.soak.error}")
        if scale:
            for n in scale_sizes:
                console.print(f"scale: FAISS IVF over {n:,} vectors", highlight=False)
                try:
                    report.scale_vectors.append(_in_fresh_process(scale_vectors, n))
                except Exception as exc:  # noqa: BLE001
                    report.errors.append(f"scale vectors {n}: {type(exc).__name__}: {exc}")
            for n in scale_sizes:
                console.print(f"scale: BM25 over {n:,} texts", highlight=False)
                try:
                    report.scale_bm25.append(_in_fresh_process(scale_bm25, n))
                except Exception as exc:  # noqa: BLE001
                    report.errors.append(f"scale bm25 {n}: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.machine.load_avg_end = [round(x, 2) for x in os.getloadavg()]
    report.machine.steal_pct = steal.pct()
    report.machine.reference_ms.append(reference_ms())
    report.machine.matmul_gflops.append(matmul_gflops())
    report.notes.extend(default_notes(report))
    report.targets = check_targets(report)
    report.seconds = round(time.perf_counter() - t_start, 1)
    written = write_reports(report, out_dir)
    if plot:
        written += write_plots(report, out_dir)
    console.print(summary_table(report))
    console.print(f"report written: {', '.join(str(p) for p in written)}", highlight=False)
    for e in report.errors:
        console.print(f"[red]error:[/] {e}", highlight=False)
    return 1 if report.errors else 0


def _in_fresh_process(fn: Callable[..., R], *args: Any) -> R:
    """``fn(*args)`` in a spawned process, so that the peak RSS it measures is its own."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()

