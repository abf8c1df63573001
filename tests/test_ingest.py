"""Ingestion: cleaning, headings, sentence chunking, labels, offsets, the catalogue and loaders."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest

from ingest import (
    Catalogue,
    CatalogueError,
    CorpusError,
    chunk_corpus,
    chunk_document,
    load_catalogue,
    load_directorates,
    load_documents,
    split_blocks,
)
from ingest.clean import clean_lines
from ingest.label import codes_in

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.fixture(scope="module")
def chunks():
    return chunk_corpus(CORPUS)[0]


@pytest.fixture(scope="module")
def docs():
    return {d.id: d for d in load_documents(CORPUS)}


def test_corpus_pages_are_verbatim_copies_of_the_seeds():
    if not SEEDS.is_dir():
        pytest.skip(f"no seeds folder at {SEEDS} to compare with")
    for seed in SEEDS.glob("*.txt"):
        assert (CORPUS / "pages" / seed.name).read_bytes() == seed.read_bytes()


def test_documents_carry_metadata_and_no_invented_url(docs):
    assert set(docs) == {"dgm-structure", "fps-policy-themes"}
    for d in docs.values():
        assert d.title and d.meta.language == "en"
        assert d.meta.source_url == ""


def test_debris_is_removed():
    lines = [ln.text for ln in clean_lines("-\nLast updated on\nHeading\nA sentence here.-\n  two   spaces  \n")]
    assert "-" not in lines and "Last updated on" not in lines
    assert "A sentence here." in lines
    assert "two spaces" in lines


def test_short_title_lines_become_section_headings(chunks):
    sections = {c.section for c in chunks}
    for heading in ("Remit", "Structure", "Human rights", "Peace and security", "Aid effectiveness",
                    "What are human rights?"):
        assert heading in sections
    for c in chunks:
        assert c.doc_title
        assert c.text.strip() not in sections  # a heading never stands alone as a passage


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


def test_paragraphs_naming_a_code_are_labelled(chunks):
    by_code = {codes_in(c.text)[0]: c for c in chunks if c.doc_id == "dgm-structure" and codes_in(c.text)}
    assert set(by_code) == {"M1", "M2", "M3", "M4", "M5", "ME6", "M7", "MD8", "M0.1", "M0.0"}
    for code, c in by_code.items():
        assert code in c.directorates


def test_theme_map_labels_policy_passages(chunks):
    def find(text):
        return next(c for c in chunks if text in c.text)

    assert find("Paris Declaration on Aid Effectiveness").directorates == ()
    assert "Aid effectiveness" in find("Paris Declaration on Aid Effectiveness").themes
    assert find("Aerospace is above all").directorates == ("M4",)  # anchor beats the section heading
    assert "M7" in find("Terrorism is a global phenomenon").directorates
    assert "M2" in find("sanctions in the UN Security Council").directorates
    assert find("abolition of the death penalty").directorates == ("M3",)


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
    chunks = chunk_document(doc, max_words=25, overlap=1)
    m1 = [c for c in chunks if c.directorates == ("M1",)]
    assert len(m1) >= 2
    first_last = m1[0].text.split(". ")[-1]
    assert first_last.split()[0] in m1[1].text


def test_invalid_chunk_settings_are_rejected(docs):
    with pytest.raises(ValueError, match="max_words"):
        chunk_document(docs["dgm-structure"], max_words=0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(docs["dgm-structure"], overlap=-1)


def _catalogue_with(tmp_path: Path, transform) -> Path:
    text = (CORPUS / "directorates.yaml").read_text(encoding="utf-8")
    path = tmp_path / "directorates.yaml"
    path.write_text(transform(text), encoding="utf-8")
    return path


def test_catalogue_loads_all_ten_units():
    cat = load_catalogue(CORPUS)
    assert cat.codes == ("M1", "M2", "M3", "M4", "M5", "ME6", "M7", "MD8", "M0.1", "M0.0")
    assert cat.get("ME6").shared_with == ("DGE",)
    assert cat.get("MD8").shared_with == ("DGD",)
    assert "NATO" in cat.get("M1").keywords and "cyber" in cat.get("M4").keywords
    assert "death penalty" in cat.get("M3").keywords and "radicalisation" in cat.get("M7").keywords
    # The themes no unit holds carry the words that name them, and keep them through the index's copy.
    migration = cat.theme("Asylum and migration")
    assert migration is not None and not migration.directorates and "human trafficking" in migration.keywords
    assert Catalogue.from_dict(cat.to_dict()) == cat


def test_catalogue_errors_name_file_and_entry(tmp_path):
    p = _catalogue_with(tmp_path, lambda t: t.replace("    short_name: Human Rights\n", "", 1))
    with pytest.raises(CatalogueError, match=r"directorates.yaml: entry 3 \(M3\): missing field\(s\) short_name"):
        load_directorates(p)
    p = _catalogue_with(tmp_path, lambda t: t.replace("- code: M5", "- code: M4", 1))
    with pytest.raises(CatalogueError, match=r"entry 5 \(M4\): duplicate code 'M4'"):
        load_directorates(p)
    p = _catalogue_with(tmp_path, lambda t: t.replace("- code: M5", "- code: M9", 1))
    with pytest.raises(CatalogueError, match=r"unknown code 'M9'"):
        load_directorates(p)
    p = _catalogue_with(tmp_path, lambda t: t + "\n  - [broken\n")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_directorates(p)


def test_theme_map_with_unknown_code_is_an_error(tmp_path):
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    themes = dst / "themes.yaml"
    themes.write_text(themes.read_text(encoding="utf-8").replace("directorates: [M5]", "directorates: [M55]"),
                      encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"themes.yaml: entry \d+ \(Disarmament and non-proliferation\): "
                                             r"unknown directorate code\(s\) M55"):
        load_catalogue(dst)


def test_loaders_read_md_html_and_skip_unknown_types(tmp_path, caplog):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.md").write_text("# Cyber diplomacy\n\nBelgium works on cyber norms at the UN.\n", encoding="utf-8")
    (pages / "b.html").write_text(
        "<html><head><title>T</title><script>var x=1;</script></head><body><nav>Home | Menu</nav>"
        "<article><h1>Space policy</h1><p>Belgium follows the peaceful use of outer space in the UN "
        "committees. It supports transparency measures for satellites and launches.</p></article>"
        "<footer>Contact</footer></body></html>", encoding="utf-8")
    (pages / "c.docx").write_bytes(b"PK\x03\x04")
    with caplog.at_level(logging.WARNING):
        docs = load_documents(tmp_path)
    assert "c.docx" in caplog.text and "unsupported" in caplog.text
    by_id = {d.id: d for d in docs}
    assert set(by_id) == {"a", "b"}
    html_text = by_id["b"].text
    assert "peaceful use of outer space" in html_text and "var x" not in html_text
    md_chunks = chunk_document(by_id["a"])
    assert md_chunks[0].section == "Cyber diplomacy"


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="pages folder not found"):
        load_documents(tmp_path)


def test_split_blocks_keeps_raw_offsets():
    raw = "Title\nFirst   sentence here. Second one.\n- item one;\n- item two.\n"
    (block,) = split_blocks(raw)
    assert block.section == "Title"
    assert raw[block.start:block.end].startswith("First")
    assert block.text.endswith("item two.")
