"""The sections measured on the shipped corpus, each a function returning its typed result: build,
in-process answers, embedding by thread count, answer quality, and HTTP against a served process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .load import HTTP_LEVELS, http_level, httpx_load, load_tool, median_level
from .machine import StealMeter
from .procs import RssSampler, ServedProcess
from .results import (
    QUALITY_FIGURES,
    STAGES,
    BuildResult,
    HttpLevel,
    HttpResult,
    InProcessResult,
    QualityResult,
    Stats,
    ThreadResult,
    median_stats,
    stats,
)
from .synthetic import synthetic_chunks
from .targets import HTTP_TARGET_LEVEL

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)

QA_FILES = ("qa_dev.jsonl", "qa_test.jsonl")
SYNTHETIC_BUILD_CHUNKS = 1000
VARIANTS = ("torch", "onnx", "onnx-int8")  # every embedding backend the index package offers


def served_backends() -> tuple[str, ...]:
    """The variants `dgm-assistant serve` can be configured with (the settings' embedding_backend values)."""
    from typing import get_args

    from assistant.config import Settings

    allowed = get_args(Settings.model_fields["embedding_backend"].annotation)
    return tuple(v for v in VARIANTS if v in allowed)


# -- the questions ----------------------------------------------------------------------------------------
def qa_questions(qa_files: Sequence[Path]) -> list[str]:
    """The scored question of every Q&A item (its ``question``, or the last of its ``turns``)."""
    from ..dataset import load_qa

    return [item.scored_question for f in qa_files for item in load_qa(f)]


def qa_paths() -> list[Path]:
    """The shipped Q&A files (eval/qa_dev.jsonl and eval/qa_test.jsonl)."""
    return [Path(__file__).resolve().parent.parent / name for name in QA_FILES]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


# -- variants: backend settings and embedders -------------------------------------------------------------
def backend_of(variant: str) -> str:
    """A variant's embedding backend: the variant itself (``onnx-int8``), or what follows another model's name
    (``multilingual-e5-small:onnx-int8``, a model compared with the default one in the same run)."""
    return variant.rpartition(":")[2]


def model_variant(model: str, backend: str) -> str:
    """The variant that runs ``model`` (another than the settings') with ``backend``."""
    return f"{model}:{backend}"


def variant_settings(settings: Settings, variant: str, root: Path) -> Settings:
    """The settings of one variant, with its own index folder under ``root`` (never the developer's var/)."""
    backend = backend_of(variant)
    model, _, _ = variant.rpartition(":")
    folder = root / variant.replace(":", "_")
    update: dict[str, object] = {"embedding_backend": backend if backend in served_backends() else "onnx",
                                 "index_dir": folder / "index", "feedback_path": folder / "feedback.jsonl",
                                 "corpus_dir": Path(settings.corpus_dir).absolute()}
    if model:
        update["embedding_model"] = model
    return settings.model_copy(update=update)


def make_variant_embedder(settings: Settings, variant: str, for_build: bool, threads: int | None = None):
    """The factory's embedder; for a variant the settings cannot name yet (onnx-int8), the same construction."""
    from assistant.factory import make_embedder

    backend = backend_of(variant)
    if backend in served_backends():
        return make_embedder(settings.model_copy(update={"embedding_backend": backend}), for_build=for_build)
    from index.embedders import set_threads
    from index.onnx import OnnxEmbedder, export_onnx, onnx_dir

    cores = os.cpu_count() or 1
    threads = threads or (cores if for_build else max(1, cores // settings.model_threads))
    folder = onnx_dir(settings.index_dir, settings.embedding_model)
    if for_build:
        export_onnx(settings.embedding_model, folder, quantize=True, reduce_range=settings.int8_reduce_range)
    set_threads(threads)
    return OnnxEmbedder(folder, threads=threads, quantized=True, reduce_range=settings.int8_reduce_range)


def clear_query_cache(embedder) -> None:
    embedder.clear_cache()


# -- sections ---------------------------------------------------------------------------------------------
def bench_build(settings: Settings, variant: str, synthetic: int = SYNTHETIC_BUILD_CHUNKS,
                runs: int = 1) -> BuildResult:
    """Model load (+ export), a full build of the shipped corpus, batch throughput on a synthetic corpus
    (medians of ``runs`` builds of it)."""
    from assistant.factory import build
    from index import build_index
    from index.onnx import read_export_meta

    embedder, load_s = _timed(lambda: make_variant_embedder(settings, variant, for_build=True))
    export_s = None
    if backend_of(variant) != "torch":
        export_s = (read_export_meta(Path(embedder.path)) or {}).get("seconds")
    report = build(settings, embedder=embedder, progress=False)
    from ingest.models import Chunk

    chunks = [Chunk.from_dict(json.loads(line)).embedding_text() for line in
              (Path(settings.index_dir) / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
    corpus = synthetic_chunks(synthetic, chunks)
    seconds, cpu_seconds = [], []
    for run in range(max(1, runs)):
        # A fresh folder each time: a build reuses the embeddings of an index already in its folder.
        cpu0 = time.process_time()
        syn = build_index(corpus, embedder, Path(settings.index_dir).with_name(f"synthetic-index-{run}"), "flat",
                          progress=False)
        if syn.embedded != syn.chunks:
            raise RuntimeError(f"the synthetic build reused {syn.reused} embeddings; it must embed every chunk")
        seconds.append(syn.seconds)
        cpu_seconds.append(max(1e-9, time.process_time() - cpu0))
    syn_s, cpu_s = statistics.median(seconds), statistics.median(cpu_seconds)
    return BuildResult(variant=variant, model_load_s=round(load_s, 3), export_s=export_s,
                       shipped_chunks=report.chunks, shipped_s=round(report.seconds, 3),
                       synthetic_chunks=syn.chunks, synthetic_s=round(syn_s, 3),
                       chunks_per_s=round(syn.chunks / syn_s, 1),
                       chunks_per_cpu_s=round(syn.chunks / cpu_s, 1), synthetic_runs=len(seconds))


def bench_inprocess(assistant, variant: str, questions: Sequence[str], repeats: int,
                    top_k: int = 5) -> InProcessResult:
    """Ask every question ``repeats`` times (query cache cleared before each run); medians over runs."""
    embedder = assistant.engine.embedder
    for q in questions[:10]:  # warm-up: first calls allocate buffers and compile kernels
        assistant.ask(q, top_k=top_k)
    totals: list[Stats] = []
    walls: list[Stats] = []
    cpus: list[Stats] = []
    per_stage: dict[str, list[Stats]] = {s: [] for s in STAGES}
    for _ in range(repeats):
        clear_query_cache(embedder)
        run_total: list[float] = []
        run_wall: list[float] = []
        run_cpu: list[float] = []
        run_stage: dict[str, list[float]] = {s: [] for s in STAGES}
        for q in questions:
            c = time.thread_time()
            t = time.perf_counter()
            ans = assistant.ask(q, top_k=top_k)
            run_wall.append((time.perf_counter() - t) * 1000)
            run_cpu.append((time.thread_time() - c) * 1000)
            run_total.append(ans.timings_ms.get("total", 0.0))
            for s in STAGES:
                run_stage[s].append(ans.timings_ms.get(s, 0.0))
        totals.append(stats(run_total))
        walls.append(stats(run_wall))
        cpus.append(stats(run_cpu))
        for s in STAGES:
            per_stage[s].append(stats(run_stage[s]))
    warm = stats(assistant.ask(q, top_k=top_k).timings_ms.get("total", 0.0) for q in questions)
    return InProcessResult(variant=variant, questions=len(questions), repeats=repeats, total=median_stats(totals),
                           stages={s: median_stats(v) for s, v in per_stage.items()}, wall=median_stats(walls),
                           cpu=median_stats(cpus), warm_cache_total=warm)


def bench_threads(settings: Settings, variant: str, questions: Sequence[str], passages: Sequence[str],
                  thread_counts: Sequence[int] = (1, 2)) -> list[ThreadResult]:
    """Query latency, batch throughput and batch-of-8 cost per query at each thread count."""
    from index.embedders import set_threads
    from index.onnx import OnnxEmbedder, onnx_dir

    out = []
    shared = None
    for threads in thread_counts:
        if backend_of(variant) == "torch":
            shared = shared or make_variant_embedder(settings, variant, for_build=False)
            embedder = shared
            set_threads(threads)
        else:
            embedder = OnnxEmbedder(onnx_dir(settings.index_dir, settings.embedding_model), threads=threads,
                                    quantized=backend_of(variant) == "onnx-int8", query_cache_size=0,
                                    reduce_range=settings.int8_reduce_range)
        for q in questions[:10]:
            embedder.encode([q])
        lat = []
        for q in questions[:120]:
            t = time.perf_counter()
            embedder.encode([q])
            lat.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        embedder.encode(list(passages))
        per_s = len(passages) / (time.perf_counter() - t)
        batches = [list(questions[i:i + 8]) for i in range(0, min(len(questions), 120) - 7, 8)]
        t = time.perf_counter()
        for b in batches:
            embedder.encode(b)
        b8 = (time.perf_counter() - t) * 1000 / max(1, 8 * len(batches))
        out.append(ThreadResult(variant=variant, threads=threads, query=stats(lat),
                                batch_chunks_per_s=round(per_s, 1), batch8_ms_per_query=round(b8, 3)))
    cores = os.cpu_count() or 1
    set_threads(max(1, cores // settings.model_threads))  # back to the service's setting
    return out


def bench_quality(assistant, variant: str, qa_files: Sequence[Path], top_k: int = 10,
                  max_items: int | None = None) -> list[QualityResult]:
    """The evaluation's overall figures (English items) per Q&A file, as `dgm-assistant eval` computes them."""
    from ..dataset import load_qa
    from ..runner import run_eval

    out = []
    for f in qa_files:
        items = load_qa(f)[:max_items]
        clear_query_cache(assistant.engine.embedder)
        report = run_eval({variant: assistant}, items, top_k=top_k, progress=False)
        overall = report.configs[0].overall
        out.append(QualityResult(variant=variant, qa=f.name, n=overall.n,
                                 figures={m: overall.value(m) for m in QUALITY_FIGURES}))
    return out



def bench_http(settings: Settings, variant: str, questions: Sequence[str], repeats: int, work: Path,
               levels: Sequence[int] = HTTP_LEVELS, console=None, tool: str | None = None) -> HttpResult:
    """Cold start (``repeats`` spawns), then load at each concurrency (medians of ``repeats`` runs).

    ``tool``: ``wrk`` or ``httpx`` (default: wrk when installed, see `load_tool`)."""
    tool = tool or load_tool()
    sessions = "redis" if settings.session_url else "memory"
    wrk_work = work / f"wrk-{variant}-{settings.workers}w"
    import psutil

    cold: list[float] = []
    served = None
    try:
        for r in range(repeats):
            served = ServedProcess(settings, work / f"serve-{variant}-{settings.workers}w.log")
            cold.append(round(served.wait_ready(), 3))
            if r < repeats - 1:
                served.stop()
        assert served is not None
        ready_rss = served.rss_mib()
        asyncio.run(httpx_load(served.url, questions, 4, 40, unique=True, time_limit_s=30))  # warm-up
        me = psutil.Process()
        cpu0 = sum(me.cpu_times()[:2])
        pids = served.pids()
        out_levels: list[HttpLevel] = []
        steal = StealMeter()
        with RssSampler(served) as sampler:
            for c in levels:
                n = max(200, 20 * c)
                runs = [http_level(served.url, questions, c, n, unique=True, server_pids=pids, tool=tool,
                                   work=wrk_work) for _ in range(repeats)]
                out_levels.append(median_level(runs))
                if console is not None:
                    lv = out_levels[-1]
                    console.print(f"  http {variant} c={c}: {lv.answers_per_s:.0f}/s, p50 {lv.latency.p50} ms, "
                                  f"p99 {lv.latency.p99} ms, {lv.errors} errors", highlight=False)
            # Every question asked once first, so the measured requests find their vectors in the cache.
            asyncio.run(httpx_load(served.url, questions, 4, len(questions), unique=False, time_limit_s=60))
            runs = [http_level(served.url, questions, HTTP_TARGET_LEVEL, 20 * HTTP_TARGET_LEVEL, unique=False,
                               server_pids=pids, tool=tool, work=wrk_work) for _ in range(repeats)]
            out_levels.append(median_level(runs))
        client_cpu = sum(me.cpu_times()[:2]) - cpu0
        hwm = served.peak_rss_mib()
        peak = hwm if hwm is not None else sampler.peak  # per process (worker), the sampler's total otherwise
        return HttpResult(variant=variant, workers=settings.workers, model_threads=settings.model_threads,
                          cold_start_s=cold, cold_start_median_s=round(statistics.median(cold), 3),
                          ready_rss_mib=round(ready_rss, 1), peak_rss_mib=round(peak, 1), levels=out_levels,
                          client_cpu_s=round(client_cpu, 2), steal_pct=steal.pct(), sessions=sessions)
    except Exception as exc:  # noqa: BLE001 - a service that fails to start is a figure, not a crash
        log.warning("http bench of %s failed: %s", variant, exc)
        return HttpResult(variant=variant, workers=settings.workers, model_threads=settings.model_threads,
                          sessions=sessions, cold_start_s=cold,
                          cold_start_median_s=round(statistics.median(cold), 3) if cold else None,
                          ready_rss_mib=None, peak_rss_mib=None, levels=[], client_cpu_s=None,
                          error=f"{type(exc).__name__}: {exc}")
    finally:
        if served is not None:
            served.stop()

