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

    def query_ids(self, query: str) -> list[int]:
        """The vocabulary ids of a query's words: each word whose exact (lower-cased) form occurs in the
        corpus, by its stem's id, as bm25s' `tokenize(update_vocab="never")` gives them, but without its side
        effect: that call caches every new word it meets for ever, so a long-running service would grow
        with each distinct word users send.

        Words the corpus lacks in that exact form are left out even when their stem is indexed ("elections"
        against "election"). Counting them by stem was measured on dev: BM25 alone gained (hit@3 0.816 ->
        0.839) but the assistant barely did (0.960 -> 0.966), and the abstention lost more under
        cross-validation (off-topic declined 0.961 -> 0.953, in-scope wrongly declined 0.028 -> 0.036,
        12 shuffles): off-topic questions then match more words.
        """
        tok = self._tok
        words = tok.splitter(query.lower() if tok.lower else query)
        return [sid for sid in (tok.word_to_id.get(w) for w in words) if sid]  # id 0: the empty token

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
        known = self.query_ids(query)
        if not known:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        # One query: score every document (bm25s' sparse matrix) and take the top k with numpy; bm25s' batch
        # `retrieve` would add a progress bar and per-call thread set-up that cost more than the scoring here.
        scores = np.asarray(self._retriever.get_scores(known), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top], top.astype(np.int64)

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
