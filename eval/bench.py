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
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from assistant.config import Settings
    from ingest.models import Chunk

log = logging.getLogger(__name__)

QA_FILES = ("qa_dev.jsonl", "qa_test.jsonl")
STAGES = ("embed", "search", "fuse", "route", "compose")
HTTP_LEVELS = (1, 8, 16, 32)
HTTP_TARGET_LEVEL = 16
SCALE_SIZES = (100_000, 1_000_000)
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128)
RECALL_K = 10
RECALL_TARGET = 0.95
SYNTHETIC_BUILD_CHUNKS = 1000
VARIANTS = ("torch", "onnx", "onnx-int8")  # every embedding backend the index package offers


def served_backends() -> tuple[str, ...]:
    """The variants `dgm-assistant serve` can be configured with (the settings' embedding_backend values)."""
    from typing import get_args

    from assistant.config import Settings

    allowed = get_args(Settings.model_fields["embedding_backend"].annotation)
    return tuple(v for v in VARIANTS if v in allowed)


# -- typed results ----------------------------------------------------------------------------------------
class Stats(BaseModel):
    """Latency figures in milliseconds (or whatever unit the caller states)."""

    n: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None
    max: float | None = None


class Machine(BaseModel):
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


class BuildResult(BaseModel):
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
    variant: str
    questions: int
    repeats: int
    total: Stats  # timings_ms["total"], median over repeats of each percentile
    stages: dict[str, Stats]
    wall: Stats  # wall clock around ask(), session bookkeeping included
    cpu: Stats  # CPU time of the asking thread per ask(): what the answer costs, whatever else the machine runs
    warm_cache_total: Stats  # one more run with the query cache kept


class ThreadResult(BaseModel):
    variant: str
    threads: int
    query: Stats  # one short query, cache off
    batch_chunks_per_s: float  # corpus-sized passages, batch encoding
    batch8_ms_per_query: float  # 8 queries in one call, per query


class QualityResult(BaseModel):
    variant: str
    qa: str
    n: int
    figures: dict[str, float | None]


class HttpLevel(BaseModel):
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
    nprobe: int
    p50_ms: float
    p95_ms: float
    recall: float


class ScaleVectorsResult(BaseModel):
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
    name: str
    target: str
    measured: float | None
    unit: str
    met: bool | None
    source: str


class BenchReport(BaseModel):
    created: str
    machine: Machine
    default_backend: str
    repeats: int
    build: list[BuildResult] = Field(default_factory=list)
    inprocess: list[InProcessResult] = Field(default_factory=list)
    threads: list[ThreadResult] = Field(default_factory=list)
    quality: list[QualityResult] = Field(default_factory=list)
    http: list[HttpResult] = Field(default_factory=list)
    scale_vectors: list[ScaleVectorsResult] = Field(default_factory=list)
    scale_bm25: list[ScaleBM25Result] = Field(default_factory=list)
    targets: list[TargetCheck] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0


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


def recall_at_k(approx: np.ndarray, exact: np.ndarray, k: int = RECALL_K) -> float:
    """Mean share of the exact top-k ids found in the approximate top-k (ids of -1 never count)."""
    approx, exact = np.atleast_2d(approx), np.atleast_2d(exact)
    if approx.shape[0] != exact.shape[0]:
        raise ValueError(f"approx and exact must have as many rows, got {approx.shape[0]} and {exact.shape[0]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    found = [len({int(i) for i in a[:k] if i >= 0} & {int(i) for i in e[:k]}) / k
             for a, e in zip(approx, exact, strict=True)]
    return float(np.mean(found)) if found else 0.0


def exact_top_k(queries: np.ndarray, vectors: np.ndarray, k: int = RECALL_K,
                block: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k (scores, ids) by blocks of the corpus, for recall ground truth."""
    nq = len(queries)
    k = min(k, len(vectors))
    best = np.full((nq, k), -np.inf, dtype=np.float32)
    best_ids = np.full((nq, k), -1, dtype=np.int64)
    for start in range(0, len(vectors), block):
        sims = queries @ vectors[start:start + block].T
        kk = min(k, sims.shape[1])
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        scores = np.concatenate([best, np.take_along_axis(sims, part, 1)], axis=1)
        ids = np.concatenate([best_ids, part + start], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best, best_ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
    return best, best_ids


@dataclass(frozen=True)
class ClusteredVectors:
    """A fixed distribution of unit vectors with topical structure (a two-level Gaussian mixture).

    Random unit vectors are a worst case for approximate search: every point is about as far from every
    other. Text embeddings are clustered, so the synthetic corpus is too: ``topics`` centres on the sphere,
    ``subtopics`` offsets around each, and every point a subtopic centre plus Gaussian noise, normalised. One
    distribution for every corpus size, so a larger corpus is denser, as a larger real corpus would be.
    """

    centres: np.ndarray  # (topics * subtopics, dim)
    noise: float
    description: str

    @classmethod
    def make(cls, dim: int = 384, topics: int = 2000, subtopics: int = 50, subtopic_spread: float = 0.8,
             noise: float = 0.9, seed: int = 0) -> ClusteredVectors:
        if dim < 1 or topics < 1 or subtopics < 1:
            raise ValueError(f"dim, topics and subtopics must be at least 1, got {dim}, {topics}, {subtopics}")
        rng = np.random.default_rng(seed)
        top = rng.standard_normal((topics, dim), dtype=np.float32)
        top /= np.linalg.norm(top, axis=1, keepdims=True)
        centres = np.repeat(top, subtopics, axis=0)
        centres += rng.standard_normal(centres.shape, dtype=np.float32) * np.float32(subtopic_spread / np.sqrt(dim))
        desc = (f"{topics} topic centres on the unit sphere x {subtopics} subtopics (offset {subtopic_spread}), "
                f"points = subtopic centre + Gaussian noise {noise}, normalised; dim {dim}, seed {seed}")
        return cls(centres=centres, noise=float(noise), description=desc)

    @property
    def dim(self) -> int:
        return int(self.centres.shape[1])

    def sample(self, n: int, seed: int, block: int = 65_536) -> np.ndarray:
        """``n`` unit vectors (float32), generated by blocks to bound temporary memory."""
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), dtype=np.float32)
        scale = np.float32(self.noise / np.sqrt(self.dim))
        for start in range(0, n, block):
            m = min(block, n - start)
            x = rng.standard_normal((m, self.dim), dtype=np.float32)
            x *= scale
            x += self.centres[rng.integers(0, len(self.centres), m)]
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[start:start + m] = x
        return out


def zipf_vocabulary(size: int, seed: int = 0) -> list[str]:
    """``size`` distinct pronounceable pseudo-words (no English stop words, so BM25 keeps them all)."""
    if size < 1:
        raise ValueError(f"vocabulary size must be at least 1, got {size}")
    rng = np.random.default_rng(seed)
    syllables = np.array(["ka", "lo", "mi", "ne", "ru", "ta", "be", "so", "di", "fa", "gu", "pe", "zo",
                          "vi", "ha", "ma", "tor", "len", "qua", "dex"])
    words: list[str] = []
    seen: set[str] = set()
    length = 2
    while len(words) < size:
        batch = ["".join(s) for s in rng.choice(syllables, size=(size, length))]
        for w in batch:
            if w not in seen:
                seen.add(w)
                words.append(w)
                if len(words) == size:
                    break
        length += 1
    return words


def zipf_texts(n: int, words_per_doc: int, vocabulary: Sequence[str], seed: int = 0,
               exponent: float = 1.07) -> list[str]:
    """``n`` texts of ``words_per_doc`` words drawn from a Zipf distribution over ``vocabulary``."""
    if n < 0 or words_per_doc < 1:
        raise ValueError(f"n must be >= 0 and words_per_doc >= 1, got {n} and {words_per_doc}")
    rng = np.random.default_rng(seed)
    probs = 1.0 / np.arange(1, len(vocabulary) + 1) ** exponent
    probs /= probs.sum()
    vocab = np.asarray(vocabulary, dtype=object)
    out: list[str] = []
    for start in range(0, n, 100_000):
        ids = rng.choice(len(vocab), size=(min(100_000, n - start), words_per_doc), p=probs)
        out.extend(" ".join(row) for row in vocab[ids])
    return out


def synthetic_chunks(n: int, source_texts: Sequence[str], seed: int = 0) -> list[Chunk]:
    """``n`` passages cut from the source texts' words at random offsets (for build throughput).

    Each passage is as long as a source text picked at random, so the synthetic corpus has the vocabulary and
    the length distribution of the real chunks, and the embedding cost per chunk is the real one.
    """
    from ingest.models import Chunk, content_hash

    pool = " ".join(source_texts).split()
    lengths = [len(t.split()) for t in source_texts if t.split()]
    if not pool:
        raise ValueError("source_texts holds no words to cut passages from")
    rng = np.random.default_rng(seed)
    chunks = []
    for i in range(n):
        words = lengths[int(rng.integers(0, len(lengths)))]
        start = int(rng.integers(0, max(1, len(pool) - words)))
        text = " ".join(pool[start:start + words])
        text = f"{text} (variant {i})"  # every passage distinct, so none is reused from a cache
        h = content_hash(text)
        chunks.append(Chunk(id=f"synthetic-{i:06d}-{h}", doc_id="synthetic", doc_title="Synthetic corpus",
                            section=None, position=i, text=text, start=0, end=len(text), content_hash=h))
    return chunks


def case_variant(question: str, n: int) -> str:
    """The ``n``-th spelling of a question that differs only in the case of some words' first letters.

    The embedding model's tokenizer lowercases (all-MiniLM-L6-v2 is uncased), and so does BM25's, so every
    variant costs the model exactly what the question costs, yet the query cache (keyed by the raw text)
    never recognises it. Appending a request number instead would add tokens, and cost, to every query.
    ``n`` = 0 is the question itself; words are toggled by the bits of ``n``.
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    words = question.split(" ")
    eligible = [i for i, w in enumerate(words) if len(w) >= 2 and w[0].isalpha()]
    for bit, i in enumerate(eligible):
        if n >> bit & 1:
            w = words[i]
            words[i] = (w[0].lower() if w[0].isupper() else w[0].upper()) + w[1:]
    return " ".join(words)


def qa_questions(qa_files: Sequence[Path]) -> list[str]:
    """The scored question of every Q&A item (its ``question``, or the last of its ``turns``)."""
    from .dataset import load_qa

    return [item.scored_question for f in qa_files for item in load_qa(f)]


def qa_paths() -> list[Path]:
    return [Path(__file__).resolve().parent / name for name in QA_FILES]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> Machine:
    """The machine the figures come from: CPU model, cores, memory, versions, and how busy it was."""
    import psutil

    return Machine(
        cpu_model=_read_cpu_model(), cores=os.cpu_count() or 1,
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        os=f"{platform.system()} {platform.release()}", python=platform.python_version(),
        packages={p: _version(p) for p in ("torch", "sentence-transformers", "transformers", "onnxruntime",
                                           "faiss-cpu", "bm25s", "numpy", "fastapi", "uvicorn", "httpx")},
        load_avg_start=[round(x, 2) for x in os.getloadavg()], reference_ms=[reference_ms()])


REFERENCE_ROUNDS = 5


def reference_ms(rounds: int = REFERENCE_ROUNDS) -> float:
    """Best-of-``rounds`` time, in ms, of a fixed pure-Python workload (integer arithmetic, dict and string
    work). It is the same on every run, so its time says how fast the machine ran Python code when a report
    was made: on a shared virtual machine the same code's figures move with it between runs (a noisy
    neighbour or a lower clock shows here, not in the load average). The int8 model's speed can move without
    it (2026-11-24 04:13: 22.7 ms here, as fast as ever, while a query took 3.5 ms instead of 2.9)."""
    best = math.inf
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()  # a collection of whatever the process holds would land in the timing
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            counts: dict[int, int] = {}
            for i in range(200_000):
                counts[i % 1000] = counts.get(i % 1000, 0) + i * i
            "".join(str(v) for v in counts.values())
            best = min(best, time.perf_counter() - t)
    finally:
        if enabled:
            gc.enable()
    return round(best * 1000, 2)


class StealMeter:
    """Share of CPU time stolen by the hypervisor between `start` and `pct` (None where not reported).

    On a shared virtual machine, time other guests take from ours slows every figure without showing in the
    load average; reports carry it so that a slow run can be told from a slow service."""

    def __init__(self) -> None:
        self._t0 = self._read()

    @staticmethod
    def _read() -> tuple[float, float] | None:
        import psutil

        t = psutil.cpu_times()
        steal = getattr(t, "steal", None)
        return None if steal is None else (float(steal), float(sum(t)))

    def pct(self) -> float | None:
        t1 = self._read()
        if self._t0 is None or t1 is None or t1[1] <= self._t0[1]:
            return None
        return round(100 * (t1[0] - self._t0[0]) / (t1[1] - self._t0[1]), 1)


def peak_rss_mib() -> float:
    """This process's peak RSS so far: VmHWM, which starts afresh in a new program (ru_maxrss does not: a
    spawned child inherits its parent's across exec)."""
    import resource

    hwm = vm_hwm_mib(os.getpid())
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mib(pid: int) -> float | None:
    """A live process's peak RSS (VmHWM in /proc/<pid>/status)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


# -- variants: backend settings and embedders -------------------------------------------------------------
def variant_settings(settings: Settings, variant: str, root: Path) -> Settings:
    """The settings of one variant, with its own index folder under ``root`` (never the developer's var/)."""
    backend = variant if variant in served_backends() else "onnx"
    return settings.model_copy(update={"embedding_backend": backend, "index_dir": root / variant / "index",
                                       "feedback_path": root / variant / "feedback.jsonl",
                                       "corpus_dir": Path(settings.corpus_dir).absolute()})


def make_variant_embedder(settings: Settings, variant: str, for_build: bool, threads: int | None = None):
    """The factory's embedder; for a variant the settings cannot name yet (onnx-int8), the same construction."""
    from assistant.factory import make_embedder

    if variant in served_backends():
        return make_embedder(settings.model_copy(update={"embedding_backend": variant}), for_build=for_build)
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
    if variant != "torch":
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
        if variant == "torch":
            shared = shared or make_variant_embedder(settings, variant, for_build=False)
            embedder = shared
            set_threads(threads)
        else:
            embedder = OnnxEmbedder(onnx_dir(settings.index_dir, settings.embedding_model), threads=threads,
                                    quantized=variant == "onnx-int8", query_cache_size=0,
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


QUALITY_FIGURES = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "directorate_accuracy", "oos_abstained",
                   "in_scope_abstained", "followup_success")


def bench_quality(assistant, variant: str, qa_files: Sequence[Path], top_k: int = 10,
                  max_items: int | None = None) -> list[QualityResult]:
    """The evaluation's overall figures (English items) per Q&A file, as `dgm-assistant eval` computes them."""
    from .dataset import load_qa
    from .runner import run_eval

    out = []
    for f in qa_files:
        items = load_qa(f)[:max_items]
        clear_query_cache(assistant.engine.embedder)
        report = run_eval({variant: assistant}, items, top_k=top_k, progress=False)
        overall = report.configs[0].overall
        out.append(QualityResult(variant=variant, qa=f.name, n=overall.n,
                                 figures={m: overall.value(m) for m in QUALITY_FIGURES}))
    return out


# -- HTTP -------------------------------------------------------------------------------------------------
def serve_command() -> list[str]:
    exe = Path(sys.executable).with_name("dgm-assistant")
    return [str(exe), "serve"] if exe.is_file() else [sys.executable, "-m", "cli", "serve"]


@contextlib.contextmanager
def redis_server(work: Path, timeout: float = 15.0):
    """A private ``redis-server`` on a free 127.0.0.1 port without persistence: yields its redis:// URL, or
    None when Debian's redis-server is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    import redis

    port = free_port()
    folder = work / f"redis-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


class ServedProcess:
    """`dgm-assistant serve` in a subprocess on 127.0.0.1, with its output in a log file."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DGM_")}
        env.update({
            "DGM_HOST": "127.0.0.1", "DGM_PORT": str(self.port), "DGM_INDEX_DIR": str(settings.index_dir),
            "DGM_CORPUS_DIR": str(settings.corpus_dir), "DGM_EMBEDDING_BACKEND": settings.embedding_backend,
            "DGM_EMBEDDING_MODEL": settings.embedding_model, "DGM_RATE_LIMIT": "1000000/second",
            "DGM_FEEDBACK_PATH": str(settings.feedback_path), "DGM_WATCH_INDEX_S": "0",
            "DGM_WORKERS": str(settings.workers), "DGM_MODEL_THREADS": str(settings.model_threads),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        })
        if settings.session_url:
            env["DGM_SESSION_URL"] = settings.session_url
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(serve_command(), env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from spawn to the first 200 from /api/ready."""
        import httpx

        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - self.started < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"`dgm-assistant serve` exited with {self.proc.returncode}: "
                                       f"{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/api/ready").status_code == 200:
                        return time.perf_counter() - self.started
                time.sleep(0.02)
        raise RuntimeError(f"`dgm-assistant serve` was not ready after {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def pids(self) -> list[int]:
        import psutil

        with contextlib.suppress(psutil.Error):
            p = psutil.Process(self.proc.pid)
            return [p.pid] + [c.pid for c in p.children(recursive=True)]
        return []

    def rss_mib(self) -> float:
        """Current RSS of the service (the server process and its workers)."""
        import psutil

        total = 0
        for pid in self.pids():
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total / 2**20

    def peak_rss_mib(self) -> float | None:
        """The largest peak RSS (VmHWM) of any one process of the service: the per-worker figure."""
        peaks = [v for v in (vm_hwm_mib(pid) for pid in self.pids()) if v is not None]
        return max(peaks) if peaks else None

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class RssSampler:
    """Samples a served process's RSS in a background thread while a load runs."""

    def __init__(self, served: ServedProcess, every_s: float = 0.05) -> None:
        self._served, self._every = served, every_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._served.rss_mib())
            self._stop.wait(self._every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# Shared by every load of a bench run, so no spelling of a question is ever sent twice.
_VARIANTS = itertools.count(1)


async def _load(url: str, questions: Sequence[str], concurrency: int, requests: int, unique: bool,
                time_limit_s: float, top_k: int = 5) -> tuple[list[float], int, float]:
    """``requests`` POST /api/ask calls by ``concurrency`` workers over one bounded httpx client.

    Returns latencies (ms) of the successful calls, the error count and the wall-clock seconds.
    """
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.perf_counter() + time_limit_s

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            q = questions[i % len(questions)]
            if unique:  # a new spelling every time: the query cache never answers, the model always runs
                q = case_variant(q, next(_VARIANTS))
            t = time.perf_counter()
            try:
                r = await client.post("/api/ask", json={"question": q, "top_k": top_k})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - t) * 1000)
            else:
                errors += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0


def _cpu_s(pids: Sequence[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


# wrk (Debian's `wrk` package) drives the load when it is installed: a C load generator costs the shared
# 2 cores ~0.1 ms of CPU per request where the Python client costs ~2-4 ms, so it measures the service rather
# than the client. The script sends pre-made bodies in turn and prints its summary as one JSON line.
WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("DGM_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, "/api/ask", nil, bodies[(i - 1) % #bodies + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "errors": %d, "p50": %d, "p95": %d, '
    .. '"p99": %d, "mean": %f, "max": %d}\\n', summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max))
end
"""
WRK_SECONDS = 4  # per level and run: bounded in time, and long enough for several hundred requests


def load_tool() -> str:
    """``wrk`` when the binary is on PATH, else the Python client."""
    return "wrk" if shutil.which("wrk") else "httpx"


def _wrk(url: str, questions: Sequence[str], concurrency: int, unique: bool, seconds: int,
         work: Path) -> tuple[Stats, int, int, float]:
    """One wrk run: latency stats (ms), requests, errors and wall-clock seconds."""
    work.mkdir(parents=True, exist_ok=True)
    script, bodies = work / "ask.lua", work / f"bodies-{'unique' if unique else 'repeated'}.jsonl"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    # Enough unique spellings that none repeats within a run (the service's query cache never answers).
    n = max(len(questions), 1000 * seconds) if unique else len(questions)
    with bodies.open("w", encoding="utf-8") as f:
        for i in range(n):
            q = questions[i % len(questions)]
            f.write(json.dumps({"question": case_variant(q, next(_VARIANTS)) if unique else q, "top_k": 5}) + "\n")
    done = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
                           url], env={**os.environ, "DGM_BENCH_BODIES": str(bodies)}, capture_output=True,
                          text=True, timeout=seconds + 60, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    ms = {k: round(r[k] / 1000, 3) for k in ("p50", "p95", "p99", "mean", "max")}
    return Stats(n=r["requests"], **ms), r["requests"], r["errors"], r["duration_us"] / 1e6


def http_level(url: str, questions: Sequence[str], concurrency: int, requests: int, unique: bool,
               time_limit_s: float = 60.0, server_pids: Sequence[int] = (), tool: str = "httpx",
               work: Path | None = None) -> HttpLevel:
    """One load level: ``requests`` calls through the Python client, or ``WRK_SECONDS`` of wrk."""
    if tool == "wrk":
        import resource

        def client_cpu() -> float:  # wrk runs as this process's child
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            return ru.ru_utime + ru.ru_stime

        def measure() -> tuple[Stats, int, int, float]:
            return _wrk(url, questions, concurrency, unique, WRK_SECONDS,
                        work or Path(tempfile.mkdtemp(prefix="dgm-wrk-")))
    else:
        def client_cpu() -> float:  # the client runs in this process
            return _cpu_s([os.getpid()])

        def measure() -> tuple[Stats, int, int, float]:
            lat, errors, seconds = asyncio.run(_load(url, questions, concurrency, requests, unique, time_limit_s))
            return stats(lat), len(lat) + errors, errors, seconds

    s0, c0 = _cpu_s(server_pids), client_cpu()
    latency, n, errors, seconds = measure()
    s1, c1 = _cpu_s(server_pids), client_cpu()
    done = max(1, n)
    return HttpLevel(concurrency=concurrency, cached=not unique, requests=n, errors=errors,
                     seconds=round(seconds, 3), answers_per_s=round((n - errors) / seconds, 1) if seconds else 0.0,
                     latency=latency, server_cpu_ms=round((s1 - s0) * 1000 / done, 3) if server_pids else None,
                     client_cpu_ms=round((c1 - c0) * 1000 / done, 3), tool=tool)


def _median_level(runs: Sequence[HttpLevel]) -> HttpLevel:
    best = sorted(runs, key=lambda r: r.answers_per_s)[len(runs) // 2]
    def med(field: str) -> float | None:
        vals = [getattr(r, field) for r in runs if getattr(r, field) is not None]
        return round(statistics.median(vals), 3) if vals else None

    return best.model_copy(update={"latency": median_stats([r.latency for r in runs]),
                                   "errors": sum(r.errors for r in runs),
                                   "answers_per_s": round(statistics.median(r.answers_per_s for r in runs), 1),
                                   "server_cpu_ms": med("server_cpu_ms"), "client_cpu_ms": med("client_cpu_ms")})


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
        asyncio.run(_load(served.url, questions, 4, 40, unique=True, time_limit_s=30))  # warm-up
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
                out_levels.append(_median_level(runs))
                if console is not None:
                    lv = out_levels[-1]
                    console.print(f"  http {variant} c={c}: {lv.answers_per_s:.0f}/s, p50 {lv.latency.p50} ms, "
                                  f"p99 {lv.latency.p99} ms, {lv.errors} errors", highlight=False)
            # Every question asked once first, so the measured requests find their vectors in the cache.
            asyncio.run(_load(served.url, questions, 4, len(questions), unique=False, time_limit_s=60))
            runs = [http_level(served.url, questions, HTTP_TARGET_LEVEL, 20 * HTTP_TARGET_LEVEL, unique=False,
                               server_pids=pids, tool=tool, work=wrk_work) for _ in range(repeats)]
            out_levels.append(_median_level(runs))
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


# -- scale (each size in a fresh process, so its peak RSS is its own) ------------------------------------
def scale_vectors(n: int, n_queries: int = 200, dim: int = 384, seed: int = 0) -> ScaleVectorsResult:
    """IVF-Flat over ``n`` clustered unit vectors: build, memory, latency and recall@10 per nprobe."""
    import faiss

    t = time.perf_counter()
    dist = ClusteredVectors.make(dim=dim, seed=seed)
    vectors = dist.sample(n, seed=seed + 1)
    queries = dist.sample(n_queries, seed=seed + 2)
    generate_s = time.perf_counter() - t
    exact_scores, exact_ids = exact_top_k(queries, vectors, RECALL_K)

    build_threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(build_threads)
    # ~sqrt(n) lists keeps training and adding within minutes on 2 cores (4*sqrt(n) would take 4x longer to
    # assign); k-means trains on a sample of 40 points per list, 10 iterations.
    nlist = max(1, int(round(np.sqrt(n))))
    train_points = min(n, 40 * nlist)
    rng = np.random.default_rng(seed + 3)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    t = time.perf_counter()
    index.train(vectors[np.sort(rng.choice(n, train_points, replace=False))])
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add(vectors)
    add_s = time.perf_counter() - t
    index_bytes = n * dim * 4 + n * 8 + nlist * dim * 4  # inverted lists (codes + ids) + centroids

    faiss.omp_set_num_threads(1)  # the service's setting: one thread per request

    def one_by_one(idx, count: int) -> tuple[list[float], np.ndarray]:
        lat, ids = [], []
        for q in queries[:count]:
            t1 = time.perf_counter()
            _, i = idx.search(q[None, :], RECALL_K)
            lat.append((time.perf_counter() - t1) * 1000)
            ids.append(i[0])
        return lat, np.array(ids)

    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors[: min(n, 1_000_000)])
    flat_lat, _ = one_by_one(flat, min(50, n_queries))
    del flat

    sweep: list[NprobePoint] = []
    chosen = None
    for nprobe in NPROBES:
        if nprobe > nlist:
            break
        index.nprobe = nprobe
        one_by_one(index, 10)
        lat, ids = one_by_one(index, n_queries)
        rec = recall_at_k(ids, exact_ids, RECALL_K)
        s = stats(lat)
        sweep.append(NprobePoint(nprobe=nprobe, p50_ms=s.p50 or 0.0, p95_ms=s.p95 or 0.0, recall=round(rec, 4)))
        if rec >= RECALL_TARGET and chosen is None:
            chosen = nprobe  # the whole sweep still runs: the curve shows what a harder corpus would cost
    chosen = chosen or sweep[-1].nprobe
    index.nprobe = chosen
    runs = []
    for _ in range(3):
        lat, ids = one_by_one(index, n_queries)
        runs.append(stats(lat))
    rec = recall_at_k(ids, exact_ids, RECALL_K)
    return ScaleVectorsResult(
        n=n, dim=dim, generator=dist.description, index=f"IVF{nlist},Flat (inner product)", nlist=nlist,
        train_points=train_points, generate_s=round(generate_s, 2), train_s=round(train_s, 2),
        add_s=round(add_s, 2), index_mib=round(index_bytes / 2**20, 1), peak_rss_mib=round(peak_rss_mib(), 1),
        flat_search=stats(flat_lat), sweep=sweep, nprobe=chosen, search=median_stats(runs),
        recall_at_10=round(rec, 4),
        neighbour_cosine={"1st": round(float(exact_scores[:, 0].mean()), 3),
                          "10th": round(float(exact_scores[:, -1].mean()), 3)},
        threads_build=build_threads, threads_search=1)


def scale_bm25(n: int, words_per_doc: int = 30, vocabulary: int = 50_000, query_words: int = 4,
               n_queries: int = 200, seed: int = 0) -> ScaleBM25Result:
    """The project's BM25 index (bm25s, stemming, stop words) over ``n`` generated texts."""
    import psutil

    from index.bm25 import KeywordIndex

    t = time.perf_counter()
    vocab = zipf_vocabulary(vocabulary, seed=seed)
    texts = zipf_texts(n, words_per_doc, vocab, seed=seed + 1)
    queries = zipf_texts(n_queries, query_words, vocab, seed=seed + 2)
    generate_s = time.perf_counter() - t
    rss0 = psutil.Process().memory_info().rss
    t = time.perf_counter()
    index = KeywordIndex.build(texts)
    build_s = time.perf_counter() - t
    del texts
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp) / "bm25")
        index_bytes = sum(p.stat().st_size for p in (Path(tmp) / "bm25").rglob("*") if p.is_file())
    rss_delta = psutil.Process().memory_info().rss - rss0
    for q in queries[:10]:
        index.search(q, RECALL_K)
    runs = []
    for _ in range(3):
        lat = []
        for q in queries:
            t = time.perf_counter()
            index.search(q, RECALL_K)
            lat.append((time.perf_counter() - t) * 1000)
        runs.append(stats(lat))
    log.debug("bm25 %d: rss delta %.0f MiB", n, rss_delta / 2**20)
    return ScaleBM25Result(n=n, words_per_doc=words_per_doc, vocabulary=vocabulary, generate_s=round(generate_s, 2),
                           build_s=round(build_s, 2), index_mib=round(index_bytes / 2**20, 1),
                           peak_rss_mib=round(peak_rss_mib(), 1), query_words=query_words,
                           query=median_stats(runs))


def _in_fresh_process(fn: Callable[..., BaseModel], *args: Any) -> BaseModel:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# -- targets ----------------------------------------------------------------------------------------------
def check_targets(report: BenchReport) -> list[TargetCheck]:
    """The issue's targets against the measured figures of the default backend (None = not measured)."""
    backend = report.default_backend
    rows: list[TargetCheck] = []

    def add(name: str, target: str, value: float | None, unit: str, ok: Callable[[float], bool],
            source: str) -> None:
        rows.append(TargetCheck(name=name, target=target, measured=None if value is None else round(value, 3),
                                unit=unit, met=None if value is None else bool(ok(value)), source=source))

    ip = next((r for r in report.inprocess if r.variant == backend), None)
    add("in-process answer p50", "<= 5", ip.total.p50 if ip else None, "ms", lambda v: v <= 5, f"in-process {backend}")
    add("in-process answer p95", "<= 10", ip.total.p95 if ip else None, "ms", lambda v: v <= 10,
        f"in-process {backend}")
    served: list[HttpResult | None] = [r for r in report.http if r.variant == backend and not r.error] or [None]
    for hr in served:  # one set of HTTP rows per served configuration (1 worker, 2 workers)
        where = (f"http {backend}, {hr.workers} worker{'s' if hr.workers > 1 else ''}"
                 f"{', Redis sessions' if hr.sessions == 'redis' else ''}" if hr else f"http {backend}")
        lv1 = next((lv for lv in hr.levels if lv.concurrency == 1 and not lv.cached), None) if hr else None
        lv16 = next((lv for lv in hr.levels if lv.concurrency == HTTP_TARGET_LEVEL and not lv.cached),
                    None) if hr else None
        add("HTTP p50 at concurrency 1", "<= 8", lv1.latency.p50 if lv1 else None, "ms", lambda v: v <= 8,
            f"{where}, unique questions")
        add(f"HTTP throughput at concurrency {HTTP_TARGET_LEVEL}", ">= 300", lv16.answers_per_s if lv16 else None,
            "answers/s", lambda v: v >= 300, f"{where}, unique questions")
        add(f"HTTP p99 at concurrency {HTTP_TARGET_LEVEL}", "<= 100", lv16.latency.p99 if lv16 else None, "ms",
            lambda v: v <= 100, f"{where}, unique questions")
        add(f"HTTP errors at concurrency {HTTP_TARGET_LEVEL}", "= 0", lv16.errors if lv16 else None, "errors",
            lambda v: v == 0, where)
        add("cold start to ready", "<= 5", hr.cold_start_median_s if hr else None, "s", lambda v: v <= 5, where)
        add("peak RSS per worker", "<= 600", hr.peak_rss_mib if hr else None,
            "MiB", lambda v: v <= 600, where)
    br = next((r for r in report.build if r.variant == backend), None)
    add("build throughput", ">= 250", br.chunks_per_s if br else None, "chunks/s", lambda v: v >= 250,
        f"build {backend}, {br.synthetic_chunks if br else 0} synthetic chunks")
    big = next((r for r in report.scale_vectors if r.n >= 1_000_000), None)
    add("1M approximate search p50", "<= 5", big.search.p50 if big else None, "ms", lambda v: v <= 5,
        f"scale, nprobe {big.nprobe if big else '-'}")
    add("1M recall@10", ">= 0.95", big.recall_at_10 if big else None, "", lambda v: v >= 0.95, "scale")
    add("1M index memory", "<= 2048", big.index_mib if big else None, "MiB", lambda v: v <= 2048, "scale")
    bm = next((r for r in report.scale_bm25 if r.n >= 1_000_000), None)
    bm = bm or (max(report.scale_bm25, key=lambda r: r.n) if report.scale_bm25 else None)
    add("BM25 query p50", "<= 20", bm.query.p50 if bm else None, "ms", lambda v: v <= 20,
        f"scale, {bm.n if bm else 0:,} docs")
    return rows


# -- rendering --------------------------------------------------------------------------------------------
def _f(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def _reference_lines(m: Machine) -> list[str]:
    """The machine-speed paragraph, once the reference was timed at both ends of the run."""
    if len(m.reference_ms) != 2:
        return []
    start, end = m.reference_ms
    return [f"Machine speed: a fixed pure-Python workload took {start} ms at the start and {end} ms at the end of "
            f"the run (best of {REFERENCE_ROUNDS}); the same workload on another report's machine, or on this one "
            "at another time, shows how much faster or slower the machine ran Python code. It does not see "
            "everything: the model's own speed (the query embedding by thread count, below) has moved by a "
            "third between runs while this workload took the same time.", ""]


def render_markdown(r: BenchReport) -> str:
    m = r.machine
    out = ["# Benchmark of the DGM Assistant", "",
           f"Run {r.created} in {r.seconds:.0f} s on **{m.cpu_model}, {m.cores} cores, {m.memory_gib} GiB** "
           f"({m.os}, Python {m.python}); load average {m.load_avg_start} at the start, {m.load_avg_end} at "
           f"the end; {_f(m.steal_pct, 1)}% of the CPU time stolen by the hypervisor during the run. Default "
           f"backend: **{r.default_backend}**. Percentiles are medians over {r.repeats} runs.", "",
           *_reference_lines(m),
           "Versions: " + ", ".join(f"{k} {v}" for k, v in m.packages.items()), ""]
    out += ["## Targets", "", "| figure | target | measured | met | from |", "|---|---|---|---|---|"]
    for t in r.targets:
        met = "–" if t.met is None else ("yes" if t.met else "**no**")
        out.append(f"| {t.name} | {t.target} {t.unit} | {_f(t.measured)} {t.unit} | {met} | {t.source} |")
    if r.inprocess:
        out += ["", "## In-process answers (`Assistant.ask`, ms)", "",
                f"Every Q&A question ({r.inprocess[0].questions}), query cache cleared before each run.", "",
                "| backend | p50 | p95 | p99 | " + " | ".join(f"{s} p50" for s in STAGES)
                + " | CPU p50 | warm-cache p50 |", "|---|---|---|---|" + "---|" * len(STAGES) + "---|---|"]
        for ip in r.inprocess:
            out.append(f"| {ip.variant} | {_f(ip.total.p50)} | {_f(ip.total.p95)} | {_f(ip.total.p99)} | "
                       + " | ".join(_f(ip.stages[s].p50, 3) for s in STAGES)
                       + f" | {_f(ip.cpu.p50)} | {_f(ip.warm_cache_total.p50)} |")
        out += ["", "CPU p50: CPU time of the asking thread per answer, which other work on the machine does not "
                "inflate (the wall-clock figures include waiting for a core)."]
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
        out += ["", "The synthetic corpus cuts passages from the shipped chunks' words with the shipped chunks' "
                "lengths; a build embeds with every core (chunks per CPU-second x cores bounds what an idle "
                "machine would do). The default backend's figures are medians of its synthetic builds."]
    for h in r.http:
        workers = f"{h.workers} worker{'s' if h.workers > 1 else ''}"
        tools = sorted({lv.tool for lv in h.levels}) or ["–"]
        out += ["", f"## HTTP /api/ask, {h.variant} backend ({workers}, {h.model_threads} model threads each, "
                    f"conversations in {h.sessions})", ""]
        if h.error:
            out += [f"Not measured: {h.error}"]
            continue
        out += [f"Cold start (spawn to the first 200 from /api/ready): median {_f(h.cold_start_median_s)} s of "
                f"{', '.join(_f(c) for c in h.cold_start_s)}. RSS when ready {_f(h.ready_rss_mib, 0)} MiB "
                f"(all processes), peak per process during the load {_f(h.peak_rss_mib, 0)} MiB. Load generator: "
                f"{', '.join(tools)}, on the same machine. CPU time stolen by the hypervisor during the load: "
                f"{_f(h.steal_pct, 1)}%.", "",
                "| concurrency | questions | requests | errors | answers/s | p50 ms | p95 ms | p99 ms | "
                "service CPU ms/answer | client CPU ms/answer |", "|---" * 10 + "|"]
        for lv in h.levels:
            kind = "repeated (cache)" if lv.cached else "unique"
            out.append(f"| {lv.concurrency} | {kind} | {lv.requests} | {lv.errors} | {_f(lv.answers_per_s, 0)} | "
                       f"{_f(lv.latency.p50)} | {_f(lv.latency.p95)} | {_f(lv.latency.p99)} | "
                       f"{_f(lv.server_cpu_ms)} | {_f(lv.client_cpu_ms)} |")
        top = next((lv for lv in h.levels if lv.concurrency == HTTP_TARGET_LEVEL and not lv.cached), None)
        if top and top.server_cpu_ms:
            out += ["", f"At concurrency {HTTP_TARGET_LEVEL} the service spends {top.server_cpu_ms:.1f} ms of CPU "
                    f"per answer: with the {m.cores} cores to itself (load generator elsewhere, nothing else "
                    f"running) it could give at most about {m.cores * 1000 / top.server_cpu_ms:.0f} answers/s."]
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


def summary_table(report: BenchReport):
    from rich.table import Table

    table = Table(title=f"bench: {report.machine.cpu_model}, {report.machine.cores} cores "
                        f"(default backend {report.default_backend})")
    for col in ("figure", "target", "measured", "met", "from"):
        table.add_column(col)
    for t in report.targets:
        met = "–" if t.met is None else ("[green]yes[/]" if t.met else "[red]no[/]")
        table.add_row(t.name, f"{t.target} {t.unit}", f"{_f(t.measured)} {t.unit}", met, t.source)
    return table


# -- the job ----------------------------------------------------------------------------------------------
def main(settings: Settings, out_dir: Path, scale: bool, plot: bool, http: bool, repeats: int, console, *,
         variants: Sequence[str] = VARIANTS, synthetic: int = SYNTHETIC_BUILD_CHUNKS,
         max_questions: int | None = None, http_levels: Sequence[int] = HTTP_LEVELS,
         scale_sizes: Sequence[int] = SCALE_SIZES) -> int:
    """Run the benchmark, print a table, write bench.json and bench.md (and PNGs with ``plot``) to ``out_dir``.

    Args:
        settings: the configuration; its ``embedding_backend`` is the default whose figures meet the targets.
        out_dir: where the report goes (eval/reports in the repository).
        scale: also run the 100k / 1M synthetic corpora (a few minutes, a few GiB of memory).
        plot: also write bench_*.png.
        http: start `dgm-assistant serve` and measure it over HTTP.
        repeats: runs per measurement; reports give the median.
        console: a rich console to print progress and the table to.
        variants, synthetic, max_questions, http_levels, scale_sizes: smaller runs (tests); the defaults are the
            full benchmark.

    Returns:
        0 when every section ran, 1 when one failed (its error is in the report).
    """
    from assistant.factory import load_assistant

    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f"variants must be among {', '.join(VARIANTS)}, got {list(variants)}")
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
            for backend in served:
                vs = variant_settings(settings, backend, work)
                if not (vs.index_dir / "manifest.json").exists():
                    report.errors.append(f"http {backend}: no index was built")
                    continue
                # The default backend is also served by one worker per core: each process has its own GIL.
                cores = os.cpu_count() or 1
                worker_counts = [1] + ([cores] if backend == settings.embedding_backend and cores > 1 else [])
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
        if scale:
            for n in scale_sizes:
                console.print(f"scale: FAISS IVF over {n:,} vectors", highlight=False)
                try:
                    report.scale_vectors.append(_in_fresh_process(scale_vectors, n))  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001
                    report.errors.append(f"scale vectors {n}: {type(exc).__name__}: {exc}")
            for n in scale_sizes:
                console.print(f"scale: BM25 over {n:,} texts", highlight=False)
                try:
                    report.scale_bm25.append(_in_fresh_process(scale_bm25, n))  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001
                    report.errors.append(f"scale bm25 {n}: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.machine.load_avg_end = [round(x, 2) for x in os.getloadavg()]
    report.machine.steal_pct = steal.pct()
    report.machine.reference_ms.append(reference_ms())
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


def default_notes(report: BenchReport) -> list[str]:
    notes = [
        "The load generator runs on the same machine as the service and competes with it for the cores; "
        "other work on the machine during the run (see the load averages) disturbs the figures, which is why "
        "they are medians of repeated runs.",
        "HTTP 'unique' questions are the Q&A questions with the case of some words' first letters changed, a "
        "new spelling for every request: the tokenizers lowercase, so the model does the same work, but the "
        "query-embedding cache never answers (the worst case). 'repeated (cache)' asks the Q&A questions as "
        "they are, once to fill the cache and then again, as a widget's starter questions would be asked.",
        "onnx-int8 (dynamically quantised weights, the default) gives vectors that differ slightly from the "
        "fp32 model's, so it is named '<model>+int8w8' (8-bit weights, on CPUs that multiply int8 exactly, such as "
        "x86 with VNNI) or '<model>+int8' (7-bit weights, on x86 without VNNI) and has its own index; the "
        "evaluation figures above are measured with it.",
        "Load generator: wrk (Debian's package, a C program that costs the shared cores about 0.1 ms of CPU per "
        "request) when it is installed, else a bounded async httpx client (2-4 ms of CPU per request, which "
        "the service then lacks); each level runs for a fixed time (wrk) or request count (httpx).",
    ]
    multi = [h for h in report.http if h.workers > 1 and not h.error]
    if multi:
        shared = ("they were measured so, with a redis-server on loopback (each answer writes its turn there)"
                  if multi[0].sessions == "redis" else "redis-server was not installed, so these figures keep "
                  "conversations per worker and leave out the cost of Redis")
        notes.append(f"With {multi[0].workers} workers each process loads its own model and index (peak RSS is "
                     "per process); conversations must be shared, with DGM_SESSION_URL=redis://..., so that a "
                     f"follow-up reaches its conversation whichever worker answers it: {shared}.")
    int8_threads = {t.threads: t for t in report.threads if t.variant == "onnx-int8"}
    if 1 in int8_threads:
        one = int8_threads[1]
        notes.append(f"Micro-batching: a batch of 8 queries costs {one.batch8_ms_per_query:.2f} ms per query "
                     f"against {_f(one.query.p50)} ms for one query alone (onnx-int8, 1 thread), but the int8 "
                     "model scales its activations per call, so a batched query's vector (and its answer) "
                     "would depend on the other questions in the batch; the default embeds one query per call "
                     "and serves concurrency with threads and workers instead: not implemented.")
    if report.scale_vectors:
        notes.append("Scale vectors are synthetic and clustered (see the generator); uniformly random unit "
                     "vectors would be a worst case for IVF recall. Exact ground truth: brute-force inner "
                     "product over the whole corpus for 200 held-out queries from the same distribution.")
        big = max(report.scale_vectors, key=lambda r: r.n)
        p32 = next((p for p in big.sweep if p.nprobe == 32), None)
        if big.nprobe <= 2 and p32 is not None:
            notes.append(f"At {big.n:,} chunks the same distribution is dense (about {big.n // 100_000} points per "
                         f"subtopic), so most neighbours share the query's IVF list and nprobe {big.nprobe} already "
                         f"reaches the recall target: a property of the synthetic data. Real embeddings usually "
                         f"need more lists; the sweep shows what that costs (nprobe 32: p50 {p32.p50_ms:.2f} ms, "
                         f"recall {p32.recall:.3f}).")
    if report.scale_bm25:
        notes.append("Scale texts: pseudo-words drawn from a Zipf distribution (exponent 1.07); queries draw "
                     "their words from the same distribution, so they often contain very common words (long "
                     "posting lists): a pessimistic case.")
    return notes
