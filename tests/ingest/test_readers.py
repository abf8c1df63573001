"""Readers: the shipped pages, .md and .html loaders, unknown types skipped, a missing corpus."""

from __future__ import annotations

import logging

import pytest

from ingest import CorpusError, chunk_document, load_documents
from tests.helpers import CORPUS, ROOT

SEEDS = ROOT.parent / "shared" / "seeds"


def test_corpus_pages_are_verbatim_copies_of_the_seeds():
    if not SEEDS.is_dir():
        pytest.skip(f"no seeds folder at {SEEDS} to compare with")
    for seed in SEEDS.glob("*.txt"):
        assert (CORPUS / "pages" / seed.name).read_bytes() == seed.read_bytes()


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
