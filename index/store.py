"""A FAISS vector index over normalised embeddings: exact inner product, HNSW or IVF."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

INDEX_TYPES = ("flat", "hnsw", "ivf")


class VectorStore:
    """Inner-product search over unit vectors (so scores are cosine similarities).

    Args:
        index: a built FAISS index.
        kind: ``flat`` (exact), ``hnsw`` or ``ivf`` (approximate, for large corpora).
    """

    def __init__(self, index, kind: str) -> None:
        if kind not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {kind!r}")
        self.index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 128,
              ef_construction: int = 200, nprobe: int = 16) -> VectorStore:
        import faiss

        if kind not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {kind!r}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        else:
            # ~4*sqrt(n) lists is FAISS's rule of thumb; never more lists than points to train on.
            nlist = max(1, min(int(4 * math.sqrt(max(n, 1))), n))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(nprobe, nlist)
        index.add(vectors)
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; ids of -1 (fewer than k found) are dropped by callers."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        return self.index.search(q, min(k, len(self)))

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, mmap: bool = False) -> VectorStore:
        import faiss

        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(faiss.read_index(str(path), flags), kind)
