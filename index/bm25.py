"""A BM25 keyword index (bm25s, English stemming and stop words) over the same chunks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _bm25s():
    """Import bm25s, which sets its own logger to DEBUG on import; keep it to warnings."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _tokenizer():
    import Stemmer

    bm25s = _bm25s()

    return bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")


class KeywordIndex:
    """BM25 over chunk texts; scores are raw BM25 (0 when no query term matches)."""

    def __init__(self, retriever, tokenizer) -> None:
        self._retriever = retriever
        self._tok = tokenizer

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> KeywordIndex:
        bm25s = _bm25s()

        tok = _tokenizer()
        tokens = tok.tokenize(list(texts), update_vocab=True, return_as="tuple", show_progress=False)
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, tok)

    def __len__(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query, best first; documents scoring 0 are left out."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = self._tok.tokenize([query], update_vocab="never", return_as="ids", show_progress=False)
        if not any(q[0]):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        ids, scores = self._retriever.retrieve(q, k=min(k, len(self)), show_progress=False, n_threads=1)
        ids, scores = ids[0], scores[0]
        keep = scores > 0
        return scores[keep].astype(np.float32), ids[keep].astype(np.int64)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder))
        self._tok.save_vocab(str(folder))

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> KeywordIndex:
        bm25s = _bm25s()

        retriever = bm25s.BM25.load(str(folder), mmap=mmap)
        tok = _tokenizer()
        tok.load_vocab(str(folder))
        return cls(retriever, tok)
