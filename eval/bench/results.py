"""The benchmark's typed results: one pydantic model per section, the whole report (bench.json's schema),
and the percentile helpers that make their `Stats`."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

STAGES = ("embed", "search", "fuse", "route", "compose")  # the stages an InProcessResult times
# The evaluation figures a QualityResult holds.
QUALITY_FIGURES = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "directorate_accuracy", "oos_abstained",
                   "in_scope_abstained", "followup_success")


class Stats(BaseModel):
    """Latency figures in milliseconds (or whatever unit the caller states)."""

    n: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None
    max: float | None = None


class Machine(BaseModel):
    """The machine a report comes from, and how busy and how fast it was during the run."""

    cpu_model: str
    cores: int
    memory_gib: float
    os: str
    python: str
    packages: dict[str, str]
    load_avg_start: list[float]
    load_avg_end: list[float] = Field(default_factory=list)
    # Share of the machine's CPU time the hypervisor gave to other guests during the run (/proc/stat "steal").
    steal_pct: float | None = None
    # `reference_ms` at the start and at the end of the run: how fast the machine was (see there).
    reference_ms: list[float] = Field(default_factory=list)
    # `matmul_gflops` at the start and at the end of the run: one core's fp32 matrix-product speed (see there).
    matmul_gflops: list[float] = Field(default_factory=list)


class BuildResult(BaseModel):
    """One backend's model load and builds: the shipped corpus once, a synthetic corpus for throughput."""

    variant: str
    model_load_s: float  # model load, including the ONNX export for the onnx variants
    export_s: float | None  # the ONNX export alone (None for torch or a reused export)
    shipped_chunks: int
    shipped_s: float
    synthetic_chunks: int
    synthetic_s: float
    chunks_per_s: float
    chunks_per_cpu_s: float | None = None  # per second of process CPU time: unaffected by other work on the machine
    synthetic_runs: int = 1  # synthetic builds whose medians these are


class InProcessResult(BaseModel):
    """`Assistant.ask` timings over the Q&A questions, total and per stage (medians over repeats)."""

    variant: str
    questions: int
    repeats: int
    total: Stats  # timings_ms["total"], median over repeats of each percentile
    stages: dict[str, Stats]
    wall: Stats  # wall clock around ask(), session bookkeeping included
    cpu: Stats  # CPU time of the asking thread per ask(): what the answer costs, whatever else the machine runs
    warm_cache_total: Stats  # one more run with the query cache kept


class ThreadResult(BaseModel):
    """One backend's embedding speed at one thread count."""

    variant: str
    threads: int
    query: Stats  # one short query, cache off
    batch_chunks_per_s: float  # corpus-sized passages, batch encoding
    batch8_ms_per_query: float  # 8 queries in one call, per query


class QualityResult(BaseModel):
    """The evaluation's overall figures for one backend on one Q&A file."""

    variant: str
    qa: str
    n: int
    figures: dict[str, float | None]


class HttpLevel(BaseModel):
    """One load level of POST /api/ask: a concurrency, unique or repeated questions."""

    concurrency: int
    cached: bool  # False: every question unique (the model runs every time); True: repeated questions
    requests: int
    errors: int
    seconds: float
    answers_per_s: float
    latency: Stats
    server_cpu_ms: float | None = None  # CPU time of the service per answer (user + system, all threads)
    client_cpu_ms: float | None = None  # CPU time of the load generator per answer
    tool: str = "httpx"  # the load generator: wrk (C, when installed) or a bounded async httpx client


class HttpResult(BaseModel):
    """One served configuration (backend, workers, sessions): cold start, memory and its load levels."""

    variant: str
    workers: int
    model_threads: int
    cold_start_s: list[float]
    cold_start_median_s: float | None
    ready_rss_mib: float | None
    peak_rss_mib: float | None
    levels: list[HttpLevel]
    client_cpu_s: float | None
    steal_pct: float | None = None  # CPU time stolen by the hypervisor during this configuration's load
    sessions: str = "memory"  # where the service kept conversations: "memory" or "redis"
    error: str | None = None


class NprobePoint(BaseModel):
    """IVF search at one nprobe: latency and recall@10."""

    nprobe: int
    p50_ms: float
    p95_ms: float
    recall: float


class ScaleVectorsResult(BaseModel):
    """FAISS IVF over a synthetic corpus of ``n`` vectors."""

    n: int
    dim: int
    generator: str
    index: str
    nlist: int
    train_points: int
    generate_s: float
    train_s: float
    add_s: float
    index_mib: float
    peak_rss_mib: float
    flat_search: Stats  # exact search, one query at a time
    sweep: list[NprobePoint]
    nprobe: int  # the smallest nprobe reaching the recall target (the largest tried if none does)
    search: Stats
    recall_at_10: float
    neighbour_cosine: dict[str, float]  # mean cosine of the exact 1st and 10th neighbours
    threads_build: int
    threads_search: int


class ScaleBM25Result(BaseModel):
    """BM25 over ``n`` synthetic texts."""

    n: int
    words_per_doc: int
    vocabulary: int
    generate_s: float
    build_s: float
    index_mib: float
    peak_rss_mib: float
    query_words: int
    query: Stats


class TargetCheck(BaseModel):
    """One target against its measured figure (``met`` None: not measured)."""

    name: str
    target: str
    measured: float | None
    unit: str
    met: bool | None
    source: str


class SoakResult(BaseModel):
    """A bounded run under steady load (`eval.bench.soak`): requests, errors and the service's memory drift."""

    seconds: float
    concurrency: int
    workers: int
    requests: int
    errors: int
    answers_per_s: float
    p99_ms: float | None = None
    rss_start_mib: float | None = None  # the service's RSS (all its processes) when the load starts
    rss_end_mib: float | None = None
    rss_peak_mib: float | None = None
    rss_drift_mib: float | None = None  # end minus start
    rss_drift_second_half_mib: float | None = None  # end minus half-way (the caches have filled by then)
    alive: bool = True  # the service still ran at the end
    tool: str = "httpx"
    error: str | None = None


class BenchReport(BaseModel):
    """The whole run: what bench.json holds and bench.md renders."""

    created: str
    machine: Machine
    default_backend: str
    repeats: int
    build: list[BuildResult] = Field(default_factory=list)
    inprocess: list[InProcessResult] = Field(default_factory=list)
    threads: list[ThreadResult] = Field(default_factory=list)
    quality: list[QualityResult] = Field(default_factory=list)
    http: list[HttpResult] = Field(default_factory=list)
    soak: SoakResult | None = None
    scale_vectors: list[ScaleVectorsResult] = Field(default_factory=list)
    scale_bm25: list[ScaleBM25Result] = Field(default_factory=list)
    targets: list[TargetCheck] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0


def load_report(path: Path) -> BenchReport:
    """A report as `write_reports` saved it (bench.json), e.g. to render its Markdown again."""
    return BenchReport.model_validate_json(Path(path).read_text(encoding="utf-8"))


# -- pure helpers -----------------------------------------------------------------------------------------
def stats(values: Iterable[float]) -> Stats:
    """p50/p95/p99/mean/max (numpy's linear interpolation) of some values; None figures when there are none."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return Stats(n=0)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return Stats(n=int(arr.size), p50=round(float(p50), 3), p95=round(float(p95), 3),
                 p99=round(float(p99), 3), mean=round(float(arr.mean()), 3), max=round(float(arr.max()), 3))


def median_stats(runs: Sequence[Stats]) -> Stats:
    """Each figure's median over repeated runs (how the targets are read: medians of repeated runs)."""
    if not runs:
        return Stats(n=0)

    def med(field: str) -> float | None:
        vals = [getattr(r, field) for r in runs if getattr(r, field) is not None]
        return round(float(statistics.median(vals)), 3) if vals else None

    return Stats(n=int(statistics.median([r.n for r in runs])), p50=med("p50"), p95=med("p95"), p99=med("p99"),
                 mean=med("mean"), max=med("max"))

