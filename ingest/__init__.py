"""Ingestion: corpus files -> cleaned, labelled, sentence-bounded chunks. Never imports torch."""

from __future__ import annotations

from pathlib import Path

from .catalogue import KNOWN_CODES, load_catalogue, load_directorates, load_themes
from .chunk import chunk_document
from .clean import split_blocks
from .errors import CatalogueError, CorpusError, DGMError
from .models import Block, Catalogue, Chunk, Directorate, Document, DocumentMeta, Theme, content_hash
from .readers import load_documents

__all__ = [
    "KNOWN_CODES",
    "Block",
    "Catalogue",
    "CatalogueError",
    "Chunk",
    "CorpusError",
    "DGMError",
    "Directorate",
    "Document",
    "DocumentMeta",
    "Theme",
    "chunk_corpus",
    "chunk_document",
    "content_hash",
    "load_catalogue",
    "load_directorates",
    "load_documents",
    "load_themes",
    "split_blocks",
]


def chunk_corpus(corpus_dir: Path, max_words: int = 100, overlap: int = 1) -> tuple[list[Chunk], Catalogue]:
    """Read, clean, chunk and label every document of a corpus folder."""
    catalogue = load_catalogue(corpus_dir)
    chunks: list[Chunk] = []
    for doc in load_documents(corpus_dir):
        chunks.extend(chunk_document(doc, max_words=max_words, overlap=overlap, themes=catalogue.themes))
    return chunks, catalogue
