"""A BM25 keyword index (bm25s) over the same chunks, each analysed in its own language.

Every chunk is split, stripped of its language's stop words and stemmed with its language's Snowball stemmer
(PyStemmer: English, French, Dutch, German, ...); a query is analysed in its own (detected) language. The
stems share one vocabulary, so a mixed corpus is one index and a name or a cognate ("NATO", "sanctions")
matches across languages.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

ANALYSIS_FILE = "analysis.json"
# ISO 639-1 -> (PyStemmer algorithm, bm25s stop-word list); other languages are analysed as English.
LANGUAGES = {"en": ("english", "STOPWORDS_EN"), "fr": ("french", "STOPWORDS_FRENCH"),
             "nl": ("dutch", "STOPWORDS_DUTCH"), "de": ("german", "STOPWORDS_GERMAN")}
DEFAULT_LANGUAGE = "en"
_SPLIT = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default splitter: words of two characters or more


def _bm25s():
    """Import bm25s, which sets its own logger to DEBUG on import; keep it to warnings."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _language(code: str | None) -> str:
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def stemmer(language: str = DEFAULT_LANGUAGE):
    """The Snowball stemmer of a language (PyStemmer), English for a language without one here: one instance
    per language and process, shared by the keyword index and the assistant's word matching (PyStemmer
    stems while holding the GIL, so threads may share it)."""
    return _stemmer(_language(language))


@functools.cache
def _stemmer(language: str):
    import Stemmer

    return Stemmer.Stemmer(LANGUAGES[language][0])


class _Analyzer:
    """One language's analysis: lower-case words, without its stop words, stemmed (stems cached)."""

    def __init__(self, language: str) -> None:
        stopwords = LANGUAGES[language][1]
        self._stemmer = stemmer(language)
        self._stop = frozenset(getattr(_bm25s().stopwords, stopwords))

    def words(self, text: str) -> list[str]:
        return [w for w in _SPLIT.findall(text.lower()) if w not in self._stop]

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one analyzer per language, kept for the process
    def stem(self, word: str) -> str:
        return self._stemmer.stemWord(word)


@functools.cache
def analyzer(language: str) -> _Analyzer:
    return _Analyzer(_language(language))


class KeywordHits(NamedTuple):
    """The top documents of a query, best first: raw BM25 scores and chunk positions."""

    scores: np.ndarray
    ids: np.ndarray


class KeywordIndex:
    """BM25 over chunk texts; scores are raw BM25 (0 when no query term matches).

    Args:
        retriever: the bm25s index.
        word_ids: per language, each word form met in that language's chunks -> its stem's id.
    """

    def __init__(self, retriever, word_ids: dict[str, dict[str, int]]) -> None:
        self._retriever = retriever
        self._word_ids = word_ids

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._word_ids)

    def query_ids(self, query: str, language: str = DEFAULT_LANGUAGE) -> list[int]:
        """The vocabulary ids of a query's words, analysed in ``language``: each word whose exact (lower-cased)
        form occurs in the corpus's chunks of that language, by its stem's id (of the other languages' chunks
        when the corpus has none in the query's language).

        Words the corpus lacks in that exact form are left out even when their stem is indexed ("elections"
        against "election"). Counting them by stem helped BM25 alone more than the assistant, and cost the
        abstention more than that: off-topic questions then match more words (docs/performance.md, "Tried
        and not kept").
        """
        lang = _language(language)
        words = analyzer(lang).words(query)
        if lang in self._word_ids:
            known = self._word_ids[lang]
            return [sid for sid in (known.get(w) for w in words) if sid]
        # No chunk in the query's language: its words can still name what other languages' chunks hold.
        return [sid for sid in (next((ids[w] for ids in self._word_ids.values() if w in ids), None)
                                for w in words) if sid]

    @classmethod
    def build(cls, texts: Sequence[str], languages: Sequence[str] | None = None, k1: float = 1.2,
              b: float = 0.75) -> KeywordIndex:
        """Index ``texts``, each analysed in its language (``languages``, parallel; English when None)."""
        bm25s = _bm25s()
        langs = [_language(x) for x in (languages or [DEFAULT_LANGUAGE] * len(texts))]
        if len(langs) != len(texts):
            raise ValueError(f"languages must give one language per text: {len(langs)} for {len(texts)} texts")
        vocab: dict[str, int] = {"": 0}  # id 0: the empty token bm25s expects
        word_ids: dict[str, dict[str, int]] = {}
        docs: list[list[int]] = []
        for text, lang in zip(texts, langs, strict=True):
            an, known = analyzer(lang), word_ids.setdefault(lang, {})
            ids = []
            for w in an.words(text):
                sid = known.get(w)
                if sid is None:
                    sid = known[w] = vocab.setdefault(an.stem(w), len(vocab))
                ids.append(sid)
            docs.append(ids)
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(bm25s.tokenization.Tokenized(ids=docs, vocab=vocab), create_empty_token=False,
                        show_progress=False)
        return cls(retriever, word_ids)

    def __len__(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def search(self, query: str, k: int, language: str = DEFAULT_LANGUAGE) -> KeywordHits:
        """Top-k documents for one query analysed in ``language``, best first; those scoring 0 left out."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        known = self.query_ids(query, language)
        if not known:
            return KeywordHits(np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64))
        # One query: score every document (bm25s' sparse matrix) and take the top k with numpy; bm25s' batch
        # `retrieve` would add a progress bar and per-call thread set-up that cost more than the scoring here.
        scores = np.asarray(self._retriever.get_scores(known), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return KeywordHits(scores[top], top.astype(np.int64))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder))
        (folder / ANALYSIS_FILE).write_text(json.dumps({"word_ids": self._word_ids}, ensure_ascii=False),
                                            encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> KeywordIndex:
        bm25s = _bm25s()

        retriever = bm25s.BM25.load(str(folder), mmap=mmap)
        data = json.loads((folder / ANALYSIS_FILE).read_text(encoding="utf-8"))
        return cls(retriever, {lang: dict(ids) for lang, ids in data["word_ids"].items()})
