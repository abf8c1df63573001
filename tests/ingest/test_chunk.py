"""Sentence chunking: size bounds, every word kept, lists with their intro, stable ids, overlap."""

from __future__ import annotations

import re

import pytest

from ingest import chunk_corpus, chunk_document, load_documents
from tests.helpers import CORPUS


def test_chunks_respect_size_bound_and_end_on_sentences():
    doc = load_documents(CORPUS)[0]
    for max_words in (20, 40, 100):
        for c in chunk_document(doc, max_words=max_words, overlap=1):
            sentences_in = len(re.findall(r"[.!?;:\"”)]$", c.text.strip()))
            assert sentences_in == 1, f"chunk does not end on a sentence boundary: {c.text[-40:]!r}"
            # Only a single over-long sentence (with its list) may exceed the bound.
            if len(c.text.split()) > max_words:
                assert len(re.findall(r"[.!?](\s|$)", c.text)) <= 2


def test_every_word_of_the_source_is_kept(docs, chunks):
    for doc_id, doc in docs.items():
        kept = " ".join(f"{c.section or ''} {c.text}" for c in chunks if c.doc_id == doc_id)
        kept_words = set(re.findall(r"\w+", kept.lower()))
        for w in re.findall(r"\w+", doc.text.lower()):
            if w in {"last", "updated", "on"} and w not in kept_words:
                continue  # the "Last updated on" stub is debris
            assert w in kept_words, f"{w!r} of {doc_id} is in no chunk"


def test_m4_list_stays_with_its_intro(chunks):
    m4 = [c for c in chunks if "Directorate for International Governance (M4) is dedicated" in c.text]
    assert len(m4) == 1
    for item in ("International economic and financial cooperation", "cyber;", "space;", "money laundering"):
        assert item in m4[0].text
    small = chunk_corpus(CORPUS, max_words=20, overlap=0)[0]
    m4_small = [c for c in small if "(M4) is dedicated" in c.text][0]
    assert "cyber;" in m4_small.text and "organised crime." in m4_small.text


def test_chunk_ids_are_stable_and_offsets_point_into_the_source(docs):
    a = chunk_corpus(CORPUS)[0]
    b = chunk_corpus(CORPUS)[0]
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    for c in a:
        raw = docs[c.doc_id].text[c.start:c.end]
        assert " ".join(raw.split()) == " ".join(c.text.split())
        assert c.id.startswith(f"{c.doc_id}-{c.position:03d}-")


def test_overlap_repeats_sentences(docs):
    doc = docs["dgm-structure"]
    chunks = chunk_document(doc, max_words=25, overlap=1, codes=("M1", "M2"))
    m1 = [c for c in chunks if c.directorates == ("M1",)]
    assert len(m1) >= 2
    first_last = m1[0].text.split(". ")[-1]
    assert first_last.split()[0] in m1[1].text


def test_invalid_chunk_settings_are_rejected(docs):
    with pytest.raises(ValueError, match="max_words"):
        chunk_document(docs["dgm-structure"], max_words=0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(docs["dgm-structure"], overlap=-1)


def test_chunks_keep_their_sentences_as_ingestion_split_them(docs, chunks):
    from ingest.models import Chunk

    for c in chunks:
        assert c.sentences, c.id
        # In order, within the text, covering it but for the spaces between sentences.
        assert all(0 <= a < b <= len(c.text) for a, b in c.sentences)
        assert all(b <= a2 for (_, b), (a2, _) in zip(c.sentences, c.sentences[1:], strict=False))
        assert c.sentences[0][0] == 0 and c.sentences[-1][1] == len(c.text)
        assert not "".join(c.text[b:a2] for (_, b), (a2, _) in zip(c.sentences, c.sentences[1:],
                                                                  strict=False)).strip()
        assert Chunk.from_dict(c.to_dict()) == c
    # A list stays one sentence with its intro.
    m4 = next(c for c in chunks if "(M4) is dedicated" in c.text)
    assert any("following areas:" in s and "- cyber;" in s and "- space;" in s for s in m4.sentence_texts)


def test_a_sentence_span_outside_the_text_is_refused():
    from ingest.models import Chunk

    with pytest.raises(ValueError, match=r"sentence span \(0, 9\) is outside its text of 4 characters"):
        Chunk(id="d-000-x", doc_id="d", doc_title="D", section=None, position=0, text="Text", start=0, end=4,
              content_hash="x", sentences=((0, 9),))
    assert Chunk(id="d-000-x", doc_id="d", doc_title="D", section=None, position=0, text="Text", start=0, end=4,
                 content_hash="x").sentence_texts == ("Text",)


def test_a_paragraph_naming_no_unit_takes_the_units_its_page_names(tmp_path):
    import shutil

    import yaml

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "pages" / "restrictive.txt").write_text(
        "Restrictive measures\n\nSanctions are a foreign policy instrument that aims to change behaviour.\n\n"
        "Types of measures include arms embargoes and asset freezes.\n\n"
        "They are followed by the Directorate for EU External Relations (ME6) in the Council.\n\n"
        "Energy\n\nSanctions on oil and gas imports are weighed against the security of energy supply.\n",
        encoding="utf-8")
    meta = yaml.safe_load((corpus / "documents.yaml").read_text(encoding="utf-8"))
    meta["documents"].append({"file": "restrictive.txt", "id": "restrictive", "title": "Restrictive measures"})
    (corpus / "documents.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    chunks = chunk_corpus(corpus)[0]
    page = [c for c in chunks if c.doc_id == "restrictive"]
    policy = [c for c in page if c.section != "Energy"]
    assert len(policy) >= 2 and all(c.directorates == ("ME6",) for c in policy)
    # A paragraph of a theme that no unit holds (energy) keeps its no-unit label.
    energy = [c for c in page if c.section == "Energy"]
    assert energy and all(c.directorates == () and c.themes == ("Energy",) for c in energy)
    # The structure page names every unit: its paragraphs about the whole DG stay unlabelled.
    intro = [c for c in chunks if c.doc_id == "dgm-structure" and "Within the Federal Public Service" in c.text]
    assert intro and intro[0].directorates == ()
    # The themes page names no code: its paragraphs keep the theme map's labels only.
    before = {c.id: c.directorates for c in chunk_corpus(CORPUS)[0]}
    assert all(before[c.id] == c.directorates for c in chunks if c.doc_id != "restrictive")
