"""Ingestion: corpus files -> cleaned, labelled, sentence-bounded chunks. Never imports torch."""

from __future__ import annotations

from pathlib import Path

from .boilerplate import repeated_paragraphs
from .catalogue import UnitAddition, load_additions, load_catalogue, load_themes
from .chunk import chunk_document
from .clean import split_blocks
from .errors import CatalogueError, CorpusError, CrawlError, DGMError
from .models import Block, Catalogue, Chunk, Directorate, Document, DocumentMeta, FetchFacts, Theme, content_hash
from .readers import load_documents
from .units import MIN_UNITS, parse_units

__all__ = [
    "MIN_UNITS",
    "Block",
    "Catalogue",
    "CatalogueError",
    "Chunk",
    "CorpusError",
    "CrawlError",
    "DGMError",
    "Directorate",
    "Document",
    "DocumentMeta",
    "FetchFacts",
    "Theme",
    "UnitAddition",
    "chunk_corpus",
    "chunk_document",
    "content_hash",
    "load_catalogue",
    "load_additions",
    "load_documents",
    "load_themes",
    "parse_units",
    "repeated_paragraphs",
    "split_blocks",
]


def chunk_corpus(corpus_dir: Path, max_words: int = 100, overlap: int = 1,
                 min_units: int = MIN_UNITS) -> tuple[list[Chunk], Catalogue]:
    """Read, clean, chunk and label every document of a corpus folder.

    The catalogue's units come from the corpus's structure pages (a page naming at least ``min_units`` units),
    with ``directorates.yaml``'s curated additions (``ingest.catalogue``).

    A paragraph that names no unit and belongs to no theme takes the units the page's other paragraphs name
    (not its boilerplate), unless they name ``min_units`` or more: a page naming that many units is about a
    whole directorate-general (a structure page), and so are its paragraphs that name none.

    A paragraph repeated on at least half of the pages of its language (four pages or more) is the site's
    boilerplate and becomes no chunk (``ingest.boilerplate``).
    """
    docs = load_documents(corpus_dir)
    catalogue = load_catalogue(corpus_dir, docs, min_units)
    repeated = repeated_paragraphs(docs)
    chunks: list[Chunk] = []
    for doc in docs:
        chunks.extend(chunk_document(doc, max_words=max_words, overlap=overlap, themes=catalogue.themes,
                                     drop=repeated.get(doc.meta.language, frozenset()), codes=catalogue.codes,
                                     page_units_below=min_units))
    return chunks, catalogue
