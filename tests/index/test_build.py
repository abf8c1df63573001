"""Building an index: the manifest, reuse of embeddings and of the catalogue's vectors, atomic builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import PACKAGED_MODEL, SearchIndex, build_index
from index.embedders import embedder_name
from ingest import chunk_corpus

pytestmark = pytest.mark.slow


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
    """Passes through to a real embedder and records every text it is asked to embed (as passages in
    ``seen``, as questions in ``queries``)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seen, self.queries = inner, inner.name, inner.dim, [], []

    def encode(self, texts):
        self.seen.extend(texts)
        return self.inner.encode(texts)

    def encode_query(self, text):
        self.queries.append(text)
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
    changed = cat.model_copy(update={"directorates": (
        d0.model_copy(update={"keywords": (*d0.keywords, "strategic compass")}), *cat.directorates[1:])})
    build_index(chunks, counting, tmp_path / "ix", progress=False, catalogue=changed)
    assert "strategic compass" in counting.seen
    assert SearchIndex.load(tmp_path / "ix").vectors_of(["strategic compass"]) is not None


def test_build_stores_each_page_title_embedded_as_a_question(tmp_path, corpus_copy, embedder):
    """The page titles are embedded once, at build time, as questions (what the question-kind classifier
    reads); a rebuild reuses them; an index without them still loads, and the engine embeds them itself."""
    chunks, cat = chunk_corpus(corpus_copy)
    titles = list(dict.fromkeys(c.doc_title for c in chunks))
    counting = _CountingEmbedder(embedder)
    build_index(chunks, counting, tmp_path / "ix", progress=False, catalogue=cat)
    assert counting.queries == titles and len(titles) == 2
    ix = SearchIndex.load(tmp_path / "ix")
    assert list(ix.title_vectors) == titles
    for t in titles:
        np.testing.assert_allclose(ix.title_vectors[t], embedder.encode_query(t), atol=1e-6)
    counting.queries.clear()
    build_index(chunks, counting, tmp_path / "ix", progress=False, catalogue=cat)
    assert counting.queries == []  # reused from the index it replaces

    folder = (tmp_path / "ix").resolve()
    (folder / "title_vectors.npz").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["title_vectors.npz"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert SearchIndex.load(tmp_path / "ix").title_vectors == {}


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


def test_centre_languages_moves_each_languages_mean_onto_a_common_one():
    from index.build import LANGUAGE_PRIOR_PASSAGES, centre_languages

    rng = np.random.default_rng(0)
    n = 300
    topics = rng.normal(size=(n, 32))
    offset = {"en": rng.normal(size=32) * 2, "fr": rng.normal(size=32) * 2}
    langs = ["en"] * n + ["fr"] * n
    raw = np.vstack([topics + offset["en"], topics + offset["fr"]]).astype(np.float32)
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    assert np.array_equal(centre_languages(raw[:n], langs[:n]), raw[:n])  # one language: untouched
    out = centre_languages(raw, langs)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)

    def twins_nearest(x: np.ndarray) -> float:
        sim = x[:n] @ x[n:].T  # each English passage against the French ones
        return float(np.mean(np.argmax(sim, axis=1) == np.arange(n)))

    # Its twin (the same topic in the other language) is the nearest French passage to an English one more often.
    assert twins_nearest(out) > twins_nearest(raw) + 0.05
    # A language with few passages moves only part of the way: its mean is mostly what those passages are about.
    few = centre_languages(raw[: n + 5], langs[: n + 5])
    moved = np.linalg.norm(few[n:] - raw[n: n + 5], axis=1).mean()
    full = np.linalg.norm(out[n: n + 5] - raw[n: n + 5], axis=1).mean()
    assert moved < full * (5 / (5 + LANGUAGE_PRIOR_PASSAGES)) * 2


def _with_a_french_page(corpus: Path, folder: Path) -> Path:
    """A copy of ``corpus`` in ``folder`` with one French page added (the session's corpus copy stays as is)."""
    import shutil

    import yaml

    out = folder / "corpus"
    shutil.copytree(corpus, out)
    (out / "pages" / "climat.txt").write_text(
        "Climat\n\nLa Belgique soutient une action climatique ambitieuse au sein des Nations unies.\n",
        encoding="utf-8")
    meta = yaml.safe_load((out / "documents.yaml").read_text(encoding="utf-8"))
    meta["documents"].append({"file": "climat.txt", "id": "climat", "title": "Climat", "language": "fr"})
    (out / "documents.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    return out


def test_the_index_searches_centred_vectors_and_keeps_the_models_own(tmp_path, corpus_copy, embedder):
    from index.build import EMBEDDINGS_FILE, centre_languages

    corpus = _with_a_french_page(corpus_copy, tmp_path)
    chunks, cat = chunk_corpus(corpus)
    assert {c.language for c in chunks} == {"en", "fr"}
    raws = {}
    for centre in (True, False):
        build_index(chunks, embedder, tmp_path / f"ix-{centre}", progress=False, catalogue=cat, centre=centre)
        ix = SearchIndex.load(tmp_path / f"ix-{centre}", expected_model=embedder.name)
        assert ix.manifest.settings["centre_languages"] is centre
        raw = raws[centre] = np.load((tmp_path / f"ix-{centre}").resolve() / EMBEDDINGS_FILE)
        searched = ix.vectors.index.reconstruct_n(0, len(chunks))
        expected = centre_languages(raw, [c.language for c in chunks]) if centre else raw
        assert np.allclose(searched, expected, atol=1e-5)
        assert centre == (not np.allclose(searched, raw, atol=1e-3))
    assert np.array_equal(raws[True], raws[False])  # the embeddings file keeps the model's own vectors


def test_a_fit_is_kept_over_a_rebuild_only_while_the_searched_vectors_stay_the_same(tmp_path, corpus_copy,
                                                                                      embedder, caplog):
    """A fit carried over a rebuild holds only for the same vectors: a two-language corpus rebuilt with
    DGM_CENTRE_LANGUAGES switched loses it, and an index loaded against settings that say otherwise warns."""
    import logging

    from assistant.config import Settings
    from assistant.factory import build, load_engine
    from assistant.fit import FIT_FILE
    from index import Manifest

    corpus = _with_a_french_page(corpus_copy, tmp_path)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "ix", fits_dir=tmp_path / "fits")
    build(settings, embedder=embedder, progress=False)
    fit = json.loads((Settings().corpus_dir / "fits" / f"{embedder.name}.json").read_text(encoding="utf-8"))
    fit["corpus_fingerprint"] = Manifest.read((tmp_path / "ix").resolve()).corpus_fingerprint
    (tmp_path / "ix" / FIT_FILE).write_text(json.dumps(fit), encoding="utf-8")  # as `tune --write` leaves one
    build(settings, embedder=embedder, progress=False)
    assert (tmp_path / "ix" / FIT_FILE).is_file()  # same vectors: kept
    off = settings.model_copy(update={"centre_languages": False})
    with caplog.at_level(logging.WARNING, logger="assistant.factory"):
        load_engine(off, embedder)
    assert any("DGM_CENTRE_LANGUAGES=true" in r.getMessage() for r in caplog.records)
    build(off, embedder=embedder, progress=False)
    assert not (tmp_path / "ix" / FIT_FILE).exists()  # other vectors: dropped
