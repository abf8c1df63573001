"""Read source documents (.txt, .md, .html, .pdf) from a corpus folder, with their metadata."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from .errors import CorpusError
from .models import Document, DocumentMeta

log = logging.getLogger(__name__)

METADATA_FILE = "documents.yaml"


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def read_html(path: Path) -> str:
    """Main-content extraction (navigation, footers and scripts dropped) with trafilatura."""
    import trafilatura

    html = path.read_text(encoding="utf-8", errors="replace")
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True)
    if not text:
        raise CorpusError(f"{path}: no main content could be extracted from this HTML page")
    return text


def read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        return "\n".join((page.extract_text() or "") for page in reader.pages)
    except (PdfReadError, OSError) as exc:
        raise CorpusError(f"{path}: cannot read PDF: {exc}") from exc


READERS: dict[str, Callable[[Path], str]] = {
    ".txt": read_text,
    ".md": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "document"


def load_metadata(corpus_dir: Path) -> dict[str, DocumentMeta]:
    """Metadata keyed by file name, from ``documents.yaml`` (optional)."""
    path = corpus_dir / METADATA_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: not valid YAML: {exc}") from exc
    out: dict[str, DocumentMeta] = {}
    ids: set[str] = set()
    for i, entry in enumerate(data.get("documents", []), start=1):
        if not isinstance(entry, dict) or not entry.get("file") or not entry.get("id") or not entry.get("title"):
            raise CorpusError(f"{path}: entry {i}: needs 'file', 'id' and 'title', got {entry!r}")
        if entry["id"] in ids:
            raise CorpusError(f"{path}: entry {i}: duplicate document id {entry['id']!r}")
        ids.add(entry["id"])
        out[entry["file"]] = DocumentMeta(
            id=str(entry["id"]),
            title=str(entry["title"]),
            language=str(entry.get("language") or "en"),
            source_url=str(entry.get("source_url") or ""),
        )
    return out


def load_documents(corpus_dir: Path, pages_subdir: str = "pages") -> list[Document]:
    """Read every supported file under ``corpus_dir/pages`` (sorted, so ids and order are stable).

    Unsupported file types are skipped with a warning that names them.
    """
    pages = corpus_dir / pages_subdir
    if not pages.is_dir():
        raise CorpusError(f"{pages}: corpus pages folder not found (set DGM_CORPUS_DIR to the corpus folder)")
    meta = load_metadata(corpus_dir)
    docs: list[Document] = []
    for path in sorted(p for p in pages.rglob("*") if p.is_file()):
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            log.warning("skipping %s: unsupported file type %r (supported: %s)",
                        path, path.suffix, ", ".join(sorted(READERS)))
            continue
        rel = path.relative_to(pages).as_posix()
        m = meta.get(rel) or DocumentMeta(id=_slug(path.stem), title=path.stem.replace("-", " ").strip())
        try:
            text = reader(path)
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: not UTF-8 text: {exc}") from exc
        docs.append(Document(meta=m, text=text, path=str(path)))
    if not docs:
        raise CorpusError(f"{pages}: no readable documents (supported: {', '.join(sorted(READERS))})")
    return docs
