"""`dgm-assistant bench`: how fast the assistant answers, serves, starts, builds and scales, on this machine.

Sections (each a plain function returning a typed result; `main` runs them and writes the report):

- build: model load (+ ONNX export), a full build of the shipped corpus, and batch-embedding throughput on a
  larger synthetic corpus;
- in-process: `Assistant.ask` over the Q&A questions, total and per stage (embed, search, fuse, route,
  compose), query cache cleared before every run; plus one run with the cache warm;
- threads: query latency and batch throughput per backend at 1 and 2 threads, and what a batch of 8
  queries would save (the case for micro-batching);
- quality: the evaluation's figures (hit@k, MRR, directorate accuracy, abstention) per backend, so a fast
  path that changes answers is caught;
- http: `dgm-assistant serve` in a subprocess on 127.0.0.1: cold start (spawn to the first 200 from
  /api/ready), /api/ask latency and throughput at several concurrencies (a bounded async httpx client),
  errors, and the service's peak RSS;
- scale (``--scale``): synthetic corpora of 100k and 1M chunks: FAISS IVF (clustered unit vectors) build
  time, memory, search latency and recall@10 against exact search; BM25 (bm25s) over generated text.

No figure here is asserted anywhere: benchmarks print figures; the targets table only compares them.

Modules: `results` (the typed results, bench.json's schema), `machine` (how fast and busy the machine was),
`synthetic` (generated corpora and question spellings), `procs` (the served process and Redis), `load` (the
HTTP load drivers: wrk or httpx), `sections` and `scale` (the measurements), `targets`, `render` (bench.md,
whose prose is in prose.md, and the charts) and `job` (`main`). What was measured over time is in
docs/performance.md.
"""

from __future__ import annotations

from .job import default_out_dir, main
from .load import HTTP_LEVELS, http_level, load_tool
from .machine import REFERENCE_ROUNDS, StealMeter, machine_info, peak_rss_mib, reference_ms
from .procs import RssSampler, ServedProcess, redis_server
from .render import default_notes, render_markdown, summary_table, write_plots, write_reports
from .results import (
    QUALITY_FIGURES,
    STAGES,
    BenchReport,
    BuildResult,
    HttpLevel,
    HttpResult,
    InProcessResult,
    Machine,
    NprobePoint,
    QualityResult,
    ScaleBM25Result,
    ScaleVectorsResult,
    Stats,
    TargetCheck,
    ThreadResult,
    load_report,
    median_stats,
    stats,
)
from .scale import RECALL_K, SCALE_SIZES, exact_top_k, recall_at_k, scale_bm25, scale_vectors
from .sections import (
    SYNTHETIC_BUILD_CHUNKS,
    VARIANTS,
    bench_build,
    bench_http,
    bench_inprocess,
    bench_quality,
    bench_threads,
    qa_paths,
    qa_questions,
    served_backends,
)
from .synthetic import ClusteredVectors, case_variant, synthetic_chunks, zipf_texts, zipf_vocabulary
from .targets import HTTP_TARGET_LEVEL, RECALL_TARGET, check_targets

__all__ = [
    # the job
    "main", "default_out_dir",
    # results and reports
    "BenchReport", "BuildResult", "HttpLevel", "HttpResult", "InProcessResult", "Machine", "NprobePoint",
    "QualityResult", "ScaleBM25Result", "ScaleVectorsResult", "Stats", "TargetCheck", "ThreadResult",
    "QUALITY_FIGURES", "STAGES", "stats", "median_stats", "load_report",
    "check_targets", "HTTP_TARGET_LEVEL", "RECALL_TARGET",
    "render_markdown", "write_reports", "write_plots", "summary_table", "default_notes",
    # sections
    "bench_build", "bench_inprocess", "bench_threads", "bench_quality", "bench_http", "scale_vectors",
    "scale_bm25", "VARIANTS", "SYNTHETIC_BUILD_CHUNKS", "HTTP_LEVELS", "SCALE_SIZES", "RECALL_K",
    "served_backends", "qa_paths", "qa_questions", "http_level", "load_tool",
    # the machine and the processes
    "machine_info", "reference_ms", "REFERENCE_ROUNDS", "StealMeter", "peak_rss_mib",
    "ServedProcess", "RssSampler", "redis_server",
    # synthetic data and search helpers
    "ClusteredVectors", "zipf_vocabulary", "zipf_texts", "synthetic_chunks", "case_variant",
    "recall_at_k", "exact_top_k",
]
