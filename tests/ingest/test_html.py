"""HTML pages: main content as plain text, the page's own metadata, a folder of saved pages, boilerplate."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from ingest import (
    CorpusError,
    Document,
    DocumentMeta,
    chunk_corpus,
    chunk_document,
    load_documents,
    repeated_paragraphs,
)
from ingest.html import language_tag, page_info, page_links, page_text, plain

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "fixtures" / "site"
BASE = "https://ministry.example"


def _page(path: str) -> str:
    return (SITE / path).read_text(encoding="utf-8")


def test_main_content_is_plain_text_without_the_page_furniture():
    assert page_text(_page("en/human-rights.html")) == (
        "# Human rights\n\n"
        "The fictional ministry defends human rights in every multilateral forum. Its human rights directorate "
        "prepares the positions taken at the Human Rights Council in Geneva.\n\n"
        "# Priorities\n\n"
        "Three priorities guide this work:\n\n"
        "- the abolition of the death penalty;\n- the rights of the child;\n- the fight against impunity.\n\n"
        "Note: this sentence was escaped twice by the content management system and still reads as plain text.\n\n"
        "# Resolutions\n\n"
        "- Year: 2025; Resolution: Rights of the child\n- Year: 2026; Resolution: Freedom of expression online\n\n"
        "The ministry reports on this work to Parliament every year.\n\n"
        "Did you find this page useful? Tell the web team through the feedback form of this fictional site.\n")


@pytest.mark.parametrize("raw, clean", [
    ("<strong>Bold</strong> words", "Bold words"),
    ("&lt;em&gt;escaped&lt;/em&gt; twice", "escaped twice"),
    ("Fish &amp;amp; chips", "Fish & chips"),
    ("a &lt; b and c > d", "a < b and c > d"),  # comparisons are text, not markup
    ("  spread\n over   lines ", "spread over lines"),
    ('<a href="/x">link</a><br/>next', "linknext"),
])
def test_plain_takes_markup_out_of_text(raw, clean):
    assert plain(raw) == clean


@pytest.mark.parametrize("path, language, title, breadcrumb, modified", [
    # <html lang="en">, a JSON-LD BreadcrumbList, article:modified_time
    ("en/human-rights.html", "en", "Human rights", ("Home", "Policy", "Human rights"), "2026-03-02T09:30:00+01:00"),
    # <html lang="fr-BE">, the BreadcrumbList inside an @graph, dcterms.modified
    ("fr/droits-humains.html", "fr", "Droits humains", ("Accueil", "Politique", "Droits humains"),
     "2026-03-03T10:00:00+01:00"),
    # <html lang="nl">, a breadcrumb navigation only, no date
    ("nl/mensenrechten.html", "nl", "Mensenrechten", ("Home", "Beleid", "Mensenrechten"), ""),
    # no lang attribute: the hreflang alternate that is the page itself; JSON-LD dateModified
    ("de/menschenrechte.html", "de", "Menschenrechte", ("Startseite", "Politik", "Menschenrechte"),
     "2026-03-04T00:00:00"),
])
def test_a_page_says_what_it_is(path, language, title, breadcrumb, modified):
    info = page_info(_page(path))
    assert info.url == f"{BASE}/{path.removesuffix('.html')}"
    assert (info.language, info.title, info.breadcrumb, info.modified) == (language, title, breadcrumb, modified)
    assert dict(info.twins) == {"en": f"{BASE}/en/human-rights", "fr": f"{BASE}/fr/droits-humains",
                                "nl": f"{BASE}/nl/mensenrechten", "de": f"{BASE}/de/menschenrechte"}


def test_without_a_canonical_link_the_fetched_url_finds_the_language():
    html = _page("de/klima.html").replace(f'<link rel="canonical" href="{BASE}/de/klima">', "")
    assert page_info(html).language == ""
    info = page_info(html, url=f"{BASE}/de/klima")
    assert info.language == "de" and info.url == ""


def test_links_and_alternates_are_absolute():
    alternates, links = page_links(_page("en/human-rights.html"), f"{BASE}/en/human-rights")
    assert f"{BASE}/fr/droits-humains" in alternates and len(alternates) == 4
    assert f"{BASE}/private/internal" in links and f"{BASE}/en/united-nations" in links
    assert all(u.startswith(BASE) for u in links)


@pytest.mark.parametrize("tag, primary", [("fr-BE", "fr"), ("NL", "nl"), ("de_DE", "de"), ("x-default", ""),
                                          ("", ""), (None, "")])
def test_language_tags(tag, primary):
    assert language_tag(tag) == primary


def test_a_page_that_is_not_html_says_nothing():
    assert page_info("") == page_info("   ")
    assert page_text("") == ""


# --- a folder of saved pages -----------------------------------------------------------------------------

def _export(tmp_path: Path) -> Path:
    """The fixture site as a web team's export: its HTML files in their folders, no documents.yaml."""
    corpus = tmp_path / "corpus"
    for page in SITE.rglob("*.html"):
        dst = corpus / "pages" / page.relative_to(SITE)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, dst)
    return corpus


def test_a_folder_of_saved_pages_reads_with_each_pages_own_metadata(tmp_path):
    corpus = _export(tmp_path)
    docs = {d.id: d for d in load_documents(corpus)}
    # The path makes the id, so en/sanctions and fr/sanctions are two documents.
    assert {"en-sanctions", "fr-sanctions", "de-klima", "index", "private-internal"} <= set(docs)
    fr = docs["fr-sanctions"].meta
    assert fr.source_url == f"{BASE}/fr/sanctions" and fr.language == "fr" and fr.title == "Sanctions"
    assert fr.modified == "2026-03-03T10:00:00+01:00"  # no crawl: the page's own date
    assert fr.twin("nl") == f"{BASE}/nl/sancties"

    chunks, _ = chunk_corpus(corpus)
    for chunk in chunks:
        assert chunk.source == docs[chunk.doc_id].meta.source_url
        assert chunk.language == docs[chunk.doc_id].meta.language
        assert "useful" not in chunk.text and "utile" not in chunk.text and "nuttig" not in chunk.text
        assert "hilfreich" not in chunk.text and "cookie" not in chunk.text.lower() and "©" not in chunk.text
    assert sum(c.text == "The ministry reports on this work to Parliament every year." for c in chunks) == 2
    assert {c.section for c in chunks if c.doc_id == "en-human-rights"} == {"Human rights", "Priorities",
                                                                           "Resolutions"}


def test_documents_yaml_still_wins_for_a_page_it_lists(tmp_path):
    corpus = _export(tmp_path)
    (corpus / "documents.yaml").write_text(
        "documents:\n  - file: en/climate.html\n    id: climate\n    title: Climate diplomacy\n"
        "    language: en\n    source_url: https://example.org/climate\n    breadcrumb: [Home, Climate]\n",
        encoding="utf-8")
    docs = {d.id: d for d in load_documents(corpus)}
    meta = docs["climate"].meta
    assert (meta.title, meta.source_url, meta.breadcrumb, meta.twins) == (
        "Climate diplomacy", "https://example.org/climate", ("Home", "Climate"), ())
    assert "en-climate" not in docs


def test_a_page_without_main_content_is_skipped_unless_listed(tmp_path, caplog):
    corpus = _export(tmp_path)
    (corpus / "pages" / "empty.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    with caplog.at_level(logging.WARNING):
        docs = load_documents(corpus)
    assert "empty.html" in caplog.text and "no main content" in caplog.text
    assert "empty" not in {d.id for d in docs}
    (corpus / "documents.yaml").write_text("documents:\n  - {file: empty.html, id: empty, title: Empty}\n")
    with pytest.raises(CorpusError, match="no main content"):
        load_documents(corpus)


def test_two_files_with_one_id_are_an_error(tmp_path):
    pages = tmp_path / "pages"
    (pages / "a").mkdir(parents=True)
    (pages / "a" / "b.txt").write_text("Some text here.\n")
    (pages / "a-b.txt").write_text("Other text here.\n")
    with pytest.raises(CorpusError, match="document id 'a-b' is already"):
        load_documents(tmp_path)


def test_a_broken_crawl_record_names_its_file(tmp_path):
    corpus = _export(tmp_path)
    (corpus / "pages" / "en" / "news.crawl.json").write_text("{not json")
    with pytest.raises(CorpusError, match=r"news\.crawl\.json: not a crawl record"):
        load_documents(corpus)


# --- boilerplate across pages ----------------------------------------------------------------------------

def _doc(i: int, language: str, *paragraphs: str) -> Document:
    return Document(meta=DocumentMeta(id=f"d{i}", title=f"D{i}", language=language),
                    text="\n\n".join(paragraphs) + "\n", path=f"d{i}.txt")


def test_a_paragraph_on_half_the_pages_of_a_language_is_boilerplate():
    share = "Share this page with your friends."
    pair = "A sentence that two pages share."
    docs = [_doc(0, "en", f"Page zero has its own text. {share}", share),
            _doc(1, "en", "Page one has its own text.", "  share THIS page with your friends. ", pair),
            _doc(2, "en", "Page two has its own text.", pair),
            _doc(3, "en", "Page three has its own text."),
            _doc(4, "en", "Page four has its own text."),
            # three French pages repeat one paragraph: too few pages for the rule
            *(_doc(5 + i, "fr", f"Texte propre {i}.", "Partagez cette page.") for i in range(3))]
    repeated = repeated_paragraphs(docs)
    assert repeated == {}  # 2 of 5 English pages: under 50 %
    repeated = repeated_paragraphs(docs[:4] + docs[5:])  # 2 of 4: 50 %, boilerplate
    assert repeated == {"en": frozenset({share.lower(), pair.lower()})}
    chunks = chunk_document(docs[1], drop=repeated["en"])
    assert [c.text for c in chunks] == ["Page one has its own text."]


@pytest.mark.parametrize("kwargs, message", [(dict(share=0), r"share must be in \(0, 1\], got 0"),
                                             (dict(share=1.5), "got 1.5"),
                                             (dict(min_pages=1), "min_pages must be at least 2, got 1")])
def test_the_rule_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        repeated_paragraphs([], **kwargs)


def test_the_shipped_corpus_keeps_every_paragraph():
    docs = load_documents(ROOT / "corpus")
    assert repeated_paragraphs(docs) == {}
    assert all(d.meta.breadcrumb == () and d.meta.twins == () and d.meta.modified == "" for d in docs)


def test_markup_in_a_text_or_markdown_page_is_removed_at_ingest(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "pages").mkdir(parents=True)
    line = 'The <a href="https://example.org/nato">NATO desk</a> &amp; the <b>UN</b> desk.'
    for name in ("desk.txt", "notes.md"):
        (corpus / "pages" / name).write_text(f"Desks\n\n{line}\nA & B < C, kept as written.\n", encoding="utf-8")
    docs = load_documents(corpus)
    assert len(docs) == 2
    for doc in docs:
        assert "The NATO desk & the UN desk." in doc.text
        assert "A & B < C, kept as written." in doc.text  # no markup: the line is untouched
        assert "<a" not in doc.text and "href" not in doc.text and "&amp;" not in doc.text
