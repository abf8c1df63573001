"""Index: chunks -> embeddings -> FAISS + BM25, saved to a folder with a manifest. Knows nothing of HTTP."""

from __future__ import annotations

from .bm25 import KeywordIndex, stemmer
from .build import BuildReport, build_index
from .e5 import MULTILINGUAL_MODEL
from .embedders import PACKAGED_MODEL, Embedder, SentenceTransformerEmbedder, resolve_model
from .errors import EmbedderError, IndexCorruptError, IndexError_, IndexMismatchError, IndexMissingError
from .loaded import SearchIndex
from .manifest import FORMAT_VERSION, Manifest
from .store import INDEX_TYPES, VectorStore

__all__ = [
    "FORMAT_VERSION",
    "INDEX_TYPES",
    "MULTILINGUAL_MODEL",
    "PACKAGED_MODEL",
    "BuildReport",
    "Embedder",
    "EmbedderError",
    "IndexCorruptError",
    "IndexError_",
    "IndexMismatchError",
    "IndexMissingError",
    "KeywordIndex",
    "Manifest",
    "SearchIndex",
    "SentenceTransformerEmbedder",
    "VectorStore",
    "build_index",
    "resolve_model",
    "stemmer",
]
