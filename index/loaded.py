"""A loaded index: chunks, FAISS vectors and BM25 keywords, checked against the manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.models import Catalogue, Chunk

from .bm25 import KeywordIndex
from .build import (
    BM25_DIR,
    CATALOGUE_FILE,
    CATALOGUE_VECTORS_FILE,
    CHUNKS_FILE,
    EMBEDDINGS_FILE,
    TITLE_VECTORS_FILE,
    VECTORS_FILE,
)
from .errors import REBUILD_HINT, IndexCorruptError, IndexMismatchError, IndexMissingError
from .manifest import FORMAT_VERSION, MANIFEST, Manifest, file_sha256
from .store import VectorStore


@dataclass
class SearchIndex:
    """Everything retrieval needs, loaded once and shared (read-only) between requests."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    vectors: VectorStore
    keywords: KeywordIndex
    embeddings: np.ndarray
    catalogue: Catalogue | None = None
    # The catalogue's routing texts embedded at build time (text -> vector); empty for an index built
    # before they were stored, or without a catalogue.
    text_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    # Each page title embedded as a question at build time (`index.build.title_vectors`); empty for an index
    # built before they were stored.
    title_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def vectors_of(self, texts: list[str]) -> np.ndarray | None:
        """The stored vectors of ``texts`` (one row each), or None unless every one of them is stored."""
        if not texts or any(t not in self.text_vectors for t in texts):
            return None
        return np.stack([self.text_vectors[t] for t in texts])

    @classmethod
    def load(cls, index_dir: Path, expected_model: str | None = None, verify: bool = True) -> SearchIndex:
        """Load and check an index folder.

        Raises:
            IndexMissingError / IndexCorruptError / IndexMismatchError, each naming the fix.
        """
        index_dir = Path(index_dir)
        if not index_dir.exists():
            raise IndexMissingError(f"no index at {index_dir}; {REBUILD_HINT}")
        folder = index_dir.resolve()
        if not (folder / MANIFEST).is_file():
            raise IndexMissingError(f"{index_dir} holds no index manifest; {REBUILD_HINT}")
        manifest = Manifest.read(folder)
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(f"index at {index_dir} has format version {manifest.format_version}, this "
                                     f"version reads {FORMAT_VERSION}; {REBUILD_HINT}")
        if expected_model is not None and manifest.model != expected_model:
            raise IndexMismatchError(f"index at {index_dir} was built with model {manifest.model!r} but "
                                     f"{expected_model!r} is configured; {REBUILD_HINT}")
        for name, digest in manifest.files.items():
            p = folder / name
            if not p.is_file():
                raise IndexCorruptError(f"index file {p} is missing; {REBUILD_HINT}")
            if verify and file_sha256(p) != digest:
                raise IndexCorruptError(f"index file {p} is corrupt (checksum mismatch); {REBUILD_HINT}")
        try:
            chunks = [Chunk.from_dict(json.loads(line))
                      for line in (folder / CHUNKS_FILE).read_text(encoding="utf-8").splitlines() if line]
            embeddings = np.load(folder / EMBEDDINGS_FILE)
            vectors = VectorStore.load(folder / VECTORS_FILE, manifest.index_type)
            keywords = KeywordIndex.load(folder / BM25_DIR)
            cat_path = folder / CATALOGUE_FILE
            catalogue = (Catalogue.model_validate_json(cat_path.read_text(encoding="utf-8"))
                         if cat_path.is_file() else None)
            text_vectors: dict[str, np.ndarray] = {}
            if (folder / CATALOGUE_VECTORS_FILE).is_file():
                with np.load(folder / CATALOGUE_VECTORS_FILE) as stored:
                    for kind in ("profile", "descriptor"):
                        text_vectors.update(zip(stored[f"{kind}_texts"].tolist(), stored[f"{kind}s"], strict=True))
            titles: dict[str, np.ndarray] = {}
            if (folder / TITLE_VECTORS_FILE).is_file():
                with np.load(folder / TITLE_VECTORS_FILE) as stored:
                    titles = dict(zip(stored["titles"].tolist(), stored["vectors"], strict=True))
        except Exception as exc:  # numpy, faiss and bm25s raise many kinds on damaged files
            raise IndexCorruptError(f"index at {index_dir} cannot be read ({exc.__class__.__name__}: {exc}); "
                                    f"{REBUILD_HINT}") from exc
        if not (len(chunks) == len(vectors) == len(embeddings) == manifest.chunk_count):
            raise IndexCorruptError(f"index at {index_dir} is inconsistent: {len(chunks)} chunks, {len(vectors)} "
                                    f"vectors, manifest says {manifest.chunk_count}; {REBUILD_HINT}")
        if any(len(v) != manifest.dimension for v in (*text_vectors.values(), *titles.values())):
            raise IndexCorruptError(f"index at {index_dir} stores catalogue or title vectors of another dimension than "
                                    f"{manifest.dimension}; {REBUILD_HINT}")
        if vectors.dim != manifest.dimension:
            raise IndexCorruptError(f"index at {index_dir} has dimension {vectors.dim}, manifest says "
                                    f"{manifest.dimension}; {REBUILD_HINT}")
        return cls(path=folder, manifest=manifest, chunks=chunks, vectors=vectors, keywords=keywords,
                   embeddings=embeddings, catalogue=catalogue, text_vectors=text_vectors, title_vectors=titles)
