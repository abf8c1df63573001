"""Read source documents (.txt, .md, .html, .pdf) from a corpus folder, with their metadata.

A document's metadata comes from the first of: its entry in ``documents.yaml``; for an HTML page, what
the page says about itself (canonical URL, language, title, breadcrumb, last modification, hreflang
twins; see ``ingest.html``), overlaid with what the crawler learnt over HTTP when it saved the page (the
sidecar ``<name>.crawl.json``: final URL, Last-Modified); else the file's name.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import yaml

from .errors import CorpusError
from .html import PageInfo, has_markup, page_info, page_text, plain
from .models import Document, DocumentMeta, FetchFacts

log = logging.getLogger(__name__)

METADATA_FILE = "documents.yaml"
SIDECAR_SUFFIX = ".crawl.json"  # beside a page the crawler saved: pages/<name>.crawl.json


def read_text(path: Path) -> str:
    """The file's text, with any HTML markup a line carries (``<a href=...>``, entities) taken out: corpus
    text is plain by the time it reaches an answer. Lines without markup are kept exactly as they are."""
    return "\n".join(plain(line) if has_markup(line) else line
                     for line in path.read_text(encoding="utf-8").split("\n"))


def read_html(path: Path) -> str:
    """Main content as plain text (navigation, cookie banners, footers and scripts dropped; see ingest.html)."""
    text = page_text(path.read_text(encoding="utf-8", errors="replace"))
    if not text:
        raise CorpusError(f"{path}: no main content could be extracted from this HTML page")
    return text


def sidecar_path(page: Path) -> Path:
    """Where the crawler records what it learnt over HTTP about a page it saved."""
    return page.with_suffix(SIDECAR_SUFFIX)


def read_sidecar(page: Path) -> FetchFacts | None:
    path = sidecar_path(page)
    if not path.exists():
        return None
    try:
        return FetchFacts.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path}: not a crawl record ({exc}); delete it, or crawl again") from exc


def html_meta(path: Path, doc_id: str, default_title: str) -> DocumentMeta:
    """A page's metadata from the page itself and, when the crawler saved it, its sidecar."""
    facts = read_sidecar(path)
    info: PageInfo = page_info(path.read_text(encoding="utf-8", errors="replace"), url=facts.url if facts else "")
    return DocumentMeta(
        id=doc_id,
        title=info.title or default_title,
        language=info.language or "en",
        source_url=(facts.url if facts else "") or info.url,
        breadcrumb=info.breadcrumb,
        modified=(facts.modified if facts else "") or info.modified,
        twins=info.twins,
    )


def read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        return "\n".join((page.extract_text() or "") for page in reader.pages)
    except (PdfReadError, OSError) as exc:
        raise CorpusError(f"{path}: cannot read PDF: {exc}") from exc


HTML_SUFFIXES = (".html", ".htm")
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
            breadcrumb=tuple(str(x) for x in entry.get("breadcrumb") or ()),
            modified=str(entry.get("modified") or ""),
            twins=tuple(sorted((str(k), str(v)) for k, v in (entry.get("twins") or {}).items())),
        )
    return out


def load_documents(corpus_dir: Path, pages_subdir: str = "pages") -> list[Document]:
    """Read every supported file under ``corpus_dir/pages`` (sorted, so ids and order are stable).

    Unsupported file types are skipped with a warning that names them, and so is an HTML page that
    ``documents.yaml`` does not list when it has no main content (a language chooser, a search page);
    a listed page without content is an error.
    """
    pages = corpus_dir / pages_subdir
    if not pages.is_dir():
        raise CorpusError(f"{pages}: corpus pages folder not found (set DGM_CORPUS_DIR to the corpus folder)")
    meta = load_metadata(corpus_dir)
    docs: list[Document] = []
    files: dict[str, Path] = {}
    for path in sorted(p for p in pages.rglob("*") if p.is_file() and not p.name.endswith(SIDECAR_SUFFIX)):
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            log.warning("skipping %s: unsupported file type %r (supported: %s)",
                        path, path.suffix, ", ".join(sorted(READERS)))
            continue
        rel = path.relative_to(pages).as_posix()
        m = meta.get(rel)
        is_page = m is None and path.suffix.lower() in HTML_SUFFIXES
        if m is None:
            # The path, not only the name, makes the id: an export has en/index.html beside fr/index.html.
            doc_id, title = _slug(PurePosixPath(rel).with_suffix("").as_posix()), path.stem.replace("-", " ").strip()
            m = html_meta(path, doc_id, title) if is_page else DocumentMeta(id=doc_id, title=title)
        try:
            text = reader(path)
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: not UTF-8 text: {exc}") from exc
        except CorpusError:
            if not is_page:
                raise
            log.warning("skipping %s: no main content in this page (list it in %s to make that an error)",
                        path, METADATA_FILE)
            continue
        if m.id in files:
            raise CorpusError(f"{path}: document id {m.id!r} is already {files[m.id]}'s; give one of them "
                              f"another id in {METADATA_FILE}")
        files[m.id] = path
        docs.append(Document(meta=m, text=text, path=str(path)))
    if not docs:
        raise CorpusError(f"{pages}: no readable documents (supported: {', '.join(sorted(READERS))})")
    return docs
