"""Hybrid retrieval: dense (FAISS) + BM25 candidates, fused by a weighted sum of their scores (the cosine as it
is or rescaled over the candidates, or weighted reciprocal-rank fusion), MMR de-duplication, optional
cross-encoder reranking, and metadata filters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index import Embedder, SearchIndex

from .models import Hit
from .question import focus_query

# The (dense, BM25) fusion weights when neither the settings nor the fit give them (`assistant.fit.RetrievalFit`).
DEFAULT_FUSION = (0.65, 0.35)
# How the candidates may be fused (`RetrievalOptions.fusion`, the setting DGM_FUSION: scores by default).
FUSIONS = ("scores", "ranged", "rrf")


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int = 60) -> dict[int, float]:
    """Weighted reciprocal-rank fusion: sum of weight / (k + rank) over the rankings (rank from 1)."""
    fused: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, i in enumerate(ids, start=1):
            fused[i] = fused.get(i, 0.0) + weight / (k + rank)
    return fused


@dataclass(frozen=True)
class RetrievalOptions:
    """The retrieval knobs, one value each (the settings' `DGM_CANDIDATES`, `DGM_FUSION`, ...: the factory
    makes this from them; nothing here has a default of its own)."""

    candidates: int  # taken from each retriever before fusion
    fusion: str  # scores | ranged | rrf
    rrf_k: int
    dense_weight: float
    bm25_weight: float
    mmr_lambda: float
    mode: str  # hybrid | dense | bm25

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {self.candidates}")
        if self.mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"mode must be 'hybrid', 'dense' or 'bm25', got {self.mode!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(map(repr, FUSIONS))}, got {self.fusion!r}")
        if not 0 <= self.mmr_lambda <= 1:
            raise ValueError(f"mmr_lambda must be within [0, 1], got {self.mmr_lambda}")


def score_fusion(dense: Sequence[tuple[int, float]], bm25: Sequence[tuple[int, float]], dense_weight: float,
                 bm25_weight: float, ranged: bool = False) -> dict[int, float]:
    """Weighted sum of each candidate's dense cosine and its BM25 score over the query's best BM25 score (0
    where a retriever did not return it). Unlike rank fusion, it keeps how far ahead of the rest a passage is:
    a clear dense winner is not overtaken by a passage that two retrievers both rank middling.

    ``ranged``: the cosine is first rescaled over the dense candidates (the best 1, the last 0), as the BM25
    score is over its best. Models spread their cosines differently (e5's candidates lie within a few
    hundredths of each other, MiniLM's over tenths), so the raw cosine makes the same weights mean a
    different balance for each model; rescaled, a weight says how much each ranking counts."""
    best = max((s for _, s in bm25), default=0.0)
    if ranged and dense:
        top, low = dense[0][1], dense[-1][1]
        span = top - low
        fused = {i: dense_weight * ((s - low) / span if span > 0 else 1.0) for i, s in dense}
    else:
        fused = {i: dense_weight * s for i, s in dense}
    if best > 0:
        for i, s in bm25:
            fused[i] = fused.get(i, 0.0) + bm25_weight * s / best
    return fused


def mmr(order: Sequence[int], relevance: dict[int, float], vectors: np.ndarray, k: int,
        lam: float = 0.8, duplicate_cos: float = 0.95) -> list[int]:
    """Maximal marginal relevance over ``order``; passages nearly identical to a chosen one are dropped.

    Relevance is rescaled to [0, 1] so it is comparable with cosine similarity.
    """
    if not order:
        return []
    rel = np.array([relevance[i] for i in order], dtype=np.float32)
    span = float(rel.max() - rel.min())
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    vecs = vectors[list(order)]
    sim = vecs @ vecs.T  # every pair once (a few dozen candidates), instead of a product per pick
    max_sim = np.zeros(len(order), dtype=np.float32)  # each candidate's similarity to its nearest pick
    open_ = np.ones(len(order), dtype=bool)  # neither picked nor dropped as a near-duplicate
    chosen: list[int] = []
    while open_.any() and len(chosen) < k:
        scores = np.where(open_, lam * rel - (1 - lam) * max_sim, -np.inf)
        best = int(np.argmax(scores))
        open_[best] = False
        if chosen and max_sim[best] >= duplicate_cos:
            continue  # a near-duplicate of a passage already chosen
        max_sim = sim[best].copy() if not chosen else np.maximum(max_sim, sim[best])
        chosen.append(best)
    return [order[i] for i in chosen]


@dataclass(frozen=True)
class Retrieval:
    """Fused hits plus the raw rankings, which the router and the abstention check also read."""

    hits: tuple[Hit, ...]
    dense: tuple[tuple[int, float], ...]  # (chunk index, cosine), best first
    bm25: tuple[tuple[int, float], ...]  # (chunk index, BM25 score), best first


class Retriever:
    """Dense + keyword retrieval over one loaded index.

    Args:
        index: the loaded index (chunks, FAISS, BM25).
        embedder: the model that embedded the chunks.
        options: the retrieval knobs (`RetrievalOptions`, validated there).
        reranker: an optional sentence-transformers ``CrossEncoder`` applied to the fused candidates.
    """

    def __init__(self, index: SearchIndex, embedder: Embedder, options: RetrievalOptions, reranker=None) -> None:
        self.index = index
        self.embedder = embedder
        self.options = options
        self.reranker = reranker

    def _allowed(self, doc_id: str | None, directorate: str | None) -> np.ndarray | None:
        if doc_id is None and directorate is None:
            return None
        return np.array([(doc_id is None or c.doc_id == doc_id)
                         and (directorate is None or directorate in c.directorates)
                         for c in self.index.chunks], dtype=bool)

    def retrieve(self, query: str, k: int, query_vec: np.ndarray | None = None, doc_id: str | None = None,
                 directorate: str | None = None, timings: dict[str, float] | None = None,
                 mode: str | None = None, language: str | None = None) -> Retrieval:
        """The top ``k`` passages for a query, optionally restricted to a document or a directorate.

        ``timings`` (if given) receives the milliseconds spent in ``search`` and ``fuse``; ``mode``
        overrides the retriever's own (``hybrid``, ``dense`` or ``bm25``) for this call; ``language``: the
        query's, for its keyword analysis (English when None).
        """
        o = self.options
        mode = mode or o.mode
        t0 = time.perf_counter()
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        allowed = self._allowed(doc_id, directorate)
        n = len(self.index.chunks)
        # With a filter, look deeper so enough allowed candidates survive it.
        depth = min(n, o.candidates if allowed is None else max(o.candidates * 10, 200))
        dense: list[tuple[int, float]] = []
        bm25: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            qv = self.embedder.encode_query(query) if query_vec is None else query_vec
            scores, ids = self.index.vectors.search(qv, depth)
            dense = [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        if mode in ("hybrid", "bm25"):
            found = self.index.keywords.search(focus_query(query), depth, language=language or "en")
            bm25 = [(int(i), float(s)) for s, i in zip(found.scores, found.ids, strict=True)]
        if allowed is not None:
            dense = [(i, s) for i, s in dense if allowed[i]]
            bm25 = [(i, s) for i, s in bm25 if allowed[i]]
        dense, bm25 = dense[: o.candidates], bm25[: o.candidates]
        t1 = time.perf_counter()
        if o.fusion == "rrf":
            fused = rrf([([i for i, _ in dense], o.dense_weight), ([i for i, _ in bm25], o.bm25_weight)], o.rrf_k)
        else:
            fused = score_fusion(dense, bm25, o.dense_weight, o.bm25_weight, ranged=o.fusion == "ranged")
        order = sorted(fused, key=lambda i: -fused[i])
        rerank: dict[int, float] = {}
        if self.reranker is not None and order:
            pairs = [(query, self.index.chunks[i].text) for i in order]
            rr = self.reranker.predict(pairs, show_progress_bar=False)
            rerank = {i: float(s) for i, s in zip(order, np.atleast_1d(rr), strict=True)}
            order = sorted(order, key=lambda i: -rerank[i])
            fused = {i: rerank[i] for i in order}
        picked = mmr(order, fused, self.index.embeddings, k, o.mmr_lambda)
        d_score = dict(dense)
        d_rank = {i: r for r, (i, _) in enumerate(dense, start=1)}
        b_score = dict(bm25)
        b_rank = {i: r for r, (i, _) in enumerate(bm25, start=1)}
        hits = tuple(Hit(chunk=self.index.chunks[i], score=fused[i], dense=d_score.get(i), bm25=b_score.get(i),
                         dense_rank=d_rank.get(i), bm25_rank=b_rank.get(i), rerank=rerank.get(i))
                     for i in picked)
        if timings is not None:
            timings["search"] = (t1 - t0) * 1000
            timings["fuse"] = (time.perf_counter() - t1) * 1000
        return Retrieval(hits=hits, dense=tuple(dense), bm25=tuple(bm25))
