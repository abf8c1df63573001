"""The ``--scale`` sections: FAISS IVF over clustered synthetic vectors (recall against exact search) and BM25
over Zipf texts, each size meant to run in a fresh process so that its peak RSS is its own."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .machine import peak_rss_mib
from .results import NprobePoint, ScaleBM25Result, ScaleVectorsResult, median_stats, stats
from .synthetic import ClusteredVectors, zipf_texts, zipf_vocabulary
from .targets import RECALL_TARGET

log = logging.getLogger(__name__)

SCALE_SIZES = (100_000, 1_000_000)
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128)
RECALL_K = 10


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

