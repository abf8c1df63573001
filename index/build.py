"""Build an index folder from chunks: embed (reusing unchanged chunks), FAISS + BM25, atomic swap."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest.models import Catalogue, Chunk

from .bm25 import KeywordIndex
from .embedders import Embedder
from .manifest import FORMAT_VERSION, Manifest, file_sha256, fingerprint
from .store import INDEX_TYPES, VectorStore

log = logging.getLogger(__name__)

CHUNKS_FILE = "chunks.jsonl"
EMBEDDINGS_FILE = "embeddings.npy"
VECTORS_FILE = "vectors.faiss"
BM25_DIR = "bm25"
CATALOGUE_FILE = "catalogue.json"
# The catalogue's texts that routing compares questions with (each unit's profile and its single names,
# aliases and keywords), embedded at build time so that loading an index does not embed them again.
CATALOGUE_VECTORS_FILE = "catalogue_vectors.npz"
TITLE_VECTORS_FILE = "title_vectors.npz"


@dataclass(frozen=True)
class BuildReport:
    path: Path
    chunks: int
    embedded: int
    reused: int
    seconds: float
    index_type: str
    model: str

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else float("inf")


def _embedding_cache(index_dir: Path, model: str) -> dict[str, np.ndarray]:
    """Vectors of the current index keyed by chunk content hash, if it was built with ``model``."""
    try:
        manifest = Manifest.read(index_dir)
        if manifest.model != model or manifest.format_version != FORMAT_VERSION:
            return {}
        vectors = np.load(index_dir / EMBEDDINGS_FILE, mmap_mode="r")
        hashes = [json.loads(line)["content_hash"]
                  for line in (index_dir / CHUNKS_FILE).read_text(encoding="utf-8").splitlines() if line]
        if len(hashes) != len(vectors):
            return {}
        return {h: np.asarray(vectors[i]) for i, h in enumerate(hashes)}
    except Exception as exc:  # any unreadable old index just means: nothing to reuse
        log.debug("no embedding cache at %s: %s", index_dir, exc)
        return {}


def _stored(index_dir: Path | None, model: str, name: str) -> dict[str, np.ndarray]:
    """The arrays of the file ``name`` of the index at ``index_dir``, if it was built with ``model``: what a
    rebuild may reuse instead of embedding again (none without such an index, or from an unreadable one)."""
    if index_dir is None:
        return {}
    try:
        if Manifest.read(index_dir).model != model:
            return {}
        with np.load(index_dir / name) as stored:
            return {k: stored[k] for k in stored.files}
    except Exception as exc:  # no previous index, or an unreadable one: embed
        log.debug("nothing to reuse from %s at %s: %s", name, index_dir, exc)
        return {}


def catalogue_vectors(catalogue: Catalogue, embedder: Embedder, index_dir: Path | None = None
                      ) -> dict[str, np.ndarray]:
    """The embedded routing texts of ``catalogue``: ``profiles`` and ``descriptors`` with their ``*_texts``.

    Each kind is embedded in one call, as the router does when an index has none stored: an int8 model
    quantises activations per call, so the same grouping gives the same vectors. They are taken from the
    index at ``index_dir`` instead when it was built with the same model from the same texts.
    """
    profiles = catalogue.profile_texts()
    descriptors = [t for _, t in catalogue.descriptors()]
    old = _stored(index_dir, embedder.name, CATALOGUE_VECTORS_FILE)
    if ({"profiles", "profile_texts", "descriptors", "descriptor_texts"} <= set(old)
            and old["profile_texts"].tolist() == profiles and old["descriptor_texts"].tolist() == descriptors):
        return old
    return {"profiles": embedder.encode(profiles), "profile_texts": np.array(profiles, dtype=str),
            "descriptors": embedder.encode(descriptors), "descriptor_texts": np.array(descriptors, dtype=str)}


def title_vectors(chunks: Sequence[Chunk], embedder: Embedder, index_dir: Path | None = None
                  ) -> tuple[list[str], np.ndarray]:
    """Each page title of ``chunks`` (once, in order) and its embedding *as a question*, which the assistant's
    question-kind classifier reads to tell what a page offers (a service page reads like a request for one).
    Titles the index at ``index_dir`` holds for the same model are taken from it."""
    titles = list(dict.fromkeys(c.doc_title for c in chunks))
    stored = _stored(index_dir, embedder.name, TITLE_VECTORS_FILE)
    old = dict(zip(stored["titles"].tolist(), stored["vectors"], strict=True)) \
        if {"titles", "vectors"} <= set(stored) and len(stored["titles"]) == len(stored["vectors"]) else {}
    vectors = np.zeros((len(titles), embedder.dim), dtype=np.float32)
    for i, t in enumerate(titles):
        reused = old.get(t)
        vectors[i] = reused if reused is not None and reused.shape == (embedder.dim,) else embedder.encode_query(t)
    return titles, vectors


def _swap_in(new_dir: Path, index_dir: Path) -> None:
    """Point ``index_dir`` (a symlink) at ``new_dir`` atomically, then remove the previous version.

    Readers that resolve ``index_dir`` see either the old or the new complete index, never a mix.
    """
    previous = index_dir.resolve() if index_dir.is_symlink() else None
    if index_dir.exists() and not index_dir.is_symlink():
        # A plain folder from elsewhere: move it aside so the symlink can take its place.
        legacy = index_dir.with_name(f".{index_dir.name}-legacy-{int(time.time() * 1000)}")
        index_dir.rename(legacy)
        previous = legacy
    tmp_link = index_dir.with_name(f".{index_dir.name}.link-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(new_dir.name)
    os.replace(tmp_link, index_dir)
    if previous is not None and previous != new_dir.resolve() and previous.exists():
        shutil.rmtree(previous, ignore_errors=True)


# How many passages a language's mean vector counts for before it is trusted half as that language's pull
# (`centre_languages`): over the growth fixture 0, 25, 50 and 100 gave bare dense hit@3 0.758, 0.763, 0.758,
# 0.755; with one German page among the seeds 0 lost a third of its answers, 25 none.
LANGUAGE_PRIOR_PASSAGES = 25


def centre_languages(vectors: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """The passage vectors with each language's mean moved towards a common mean, unit length again: what the
    FAISS index searches (the embeddings file keeps the model's own vectors, which MMR compares).

    A multilingual model places a question nearer the passages of its own language whatever they say: over the
    growth fixture a bare multilingual-e5-small retriever found 0.81 of the answers in its top 3 when question
    and page share a language and 0.42 when they do not. Each language's mean vector carries that pull; moved
    onto a common mean it no longer favours one language (0.80 and 0.67; docs/performance.md). A language with
    few passages has a mean that is mostly their topic, so it is trusted as its language's pull by
    w = n / (n + LANGUAGE_PRIOR_PASSAGES): it moves w of the way, and the common mean weighs each language's
    mean by w, so a single German page among English ones keeps what it is about and barely moves the rest.

    Args:
        vectors: the passages' vectors, one row each.
        languages: each passage's language, parallel to the rows.

    Returns:
        float32 rows of unit length; the vectors themselves (as float32) when the passages are in one language.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    langs = np.asarray(languages)
    present = sorted(set(langs.tolist()))
    if len(present) < 2:
        return vectors
    means, trust = {}, {}
    for lang in present:
        rows = langs == lang
        means[lang] = vectors[rows].mean(axis=0)
        trust[lang] = rows.sum() / (rows.sum() + LANGUAGE_PRIOR_PASSAGES)
    common = sum(trust[lang] * means[lang] for lang in present) / sum(trust.values())
    out = vectors.copy()
    for lang in present:
        out[langs == lang] += trust[lang] * (common - means[lang])
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def build_index(chunks: Sequence[Chunk], embedder: Embedder, index_dir: Path, index_type: str = "flat",
                settings: dict | None = None, progress: bool = True, catalogue: Catalogue | None = None,
                on_embedded: Callable[[int], None] | None = None, centre: bool = True) -> BuildReport:
    """Embed chunks and write a complete index folder, swapped in atomically.

    Args:
        chunks: the corpus chunks, in order.
        embedder: the embedding model (its ``name`` is recorded and checked on load).
        index_dir: where the index lives; it becomes a symlink to a versioned sibling folder.
        index_type: ``flat`` (exact), ``hnsw`` or ``ivf``.
        settings: the settings used, recorded in the manifest.
        catalogue: the directorate catalogue and theme map, stored beside the chunks so the answering
            stage needs nothing but the index folder.
        progress: show a progress bar while embedding.
        on_embedded: test hook called after each embedded batch with the running count.
        centre: search the passage vectors with their languages' means moved together (`centre_languages`);
            the embeddings file keeps them as the model made them.

    Returns:
        What was built and how many chunks were embedded vs reused from the previous index.
    """
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    if not chunks:
        raise ValueError("no chunks to index: the corpus produced no text")
    t0 = time.perf_counter()
    index_dir = Path(index_dir).absolute()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    cache = _embedding_cache(index_dir, embedder.name)

    todo = [i for i, c in enumerate(chunks) if c.content_hash not in cache]
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    for i, c in enumerate(chunks):
        if c.content_hash in cache:
            vectors[i] = cache[c.content_hash]
    if todo:
        from tqdm.auto import tqdm

        batch = 64
        bar = tqdm(total=len(todo), desc="embedding chunks", unit="chunk", disable=not progress)
        for s in range(0, len(todo), batch):
            ids = todo[s:s + batch]
            vectors[ids] = embedder.encode([chunks[i].embedding_text() for i in ids])
            bar.update(len(ids))
            if on_embedded:
                on_embedded(s + len(ids))
        bar.close()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    new_dir = index_dir.with_name(f".{index_dir.name}-{stamp}-{os.getpid()}")
    new_dir.mkdir()
    try:
        with (new_dir / CHUNKS_FILE).open("w", encoding="utf-8") as f:
            for c in chunks:
                f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
        np.save(new_dir / EMBEDDINGS_FILE, vectors)
        searched = centre_languages(vectors, [c.language for c in chunks]) if centre else vectors
        VectorStore.build(searched, index_type).save(new_dir / VECTORS_FILE)
        KeywordIndex.build([c.embedding_text() for c in chunks], [c.language for c in chunks]).save(new_dir / BM25_DIR)
        titles, title_vecs = title_vectors(chunks, embedder, index_dir)
        np.savez(new_dir / TITLE_VECTORS_FILE, titles=np.array(titles, dtype=str), vectors=title_vecs)
        if catalogue is not None:
            (new_dir / CATALOGUE_FILE).write_text(catalogue.model_dump_json(indent=1),
                                                  encoding="utf-8")
            cv = catalogue_vectors(catalogue, embedder, index_dir)
            np.savez(new_dir / CATALOGUE_VECTORS_FILE, profiles=cv["profiles"], profile_texts=cv["profile_texts"],
                     descriptors=cv["descriptors"], descriptor_texts=cv["descriptor_texts"])
        files = {p.relative_to(new_dir).as_posix(): file_sha256(p)
                 for p in sorted(new_dir.rglob("*")) if p.is_file()}
        Manifest(
            format_version=FORMAT_VERSION, model=embedder.name, dimension=embedder.dim,
            chunk_count=len(chunks), corpus_fingerprint=fingerprint(c.content_hash for c in chunks),
            index_type=index_type, settings={**(settings or {}), "centre_languages": centre},
            created_at=datetime.now(UTC).isoformat(),
            files=files,
        ).write(new_dir)
        for p in new_dir.rglob("*"):
            if p.is_file():
                with p.open("rb") as fh:
                    os.fsync(fh.fileno())
        _swap_in(new_dir, index_dir)
    except BaseException:
        # Ctrl-C or a crash mid-write: drop the half-built folder, the previous index stays in place.
        shutil.rmtree(new_dir, ignore_errors=True)
        raise
    return BuildReport(path=index_dir, chunks=len(chunks), embedded=len(todo), reused=len(chunks) - len(todo),
                       seconds=time.perf_counter() - t0, index_type=index_type, model=embedder.name)
