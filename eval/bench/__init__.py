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
from .render import render_markdown, write_reports
from .results import BenchReport, load_report
from .targets import check_targets

# The job and its report; the sections, meters and generators are used from their modules.
__all__ = ["BenchReport", "check_targets", "default_out_dir", "load_report", "main", "render_markdown",
           "write_reports"]
