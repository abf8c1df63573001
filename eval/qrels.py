"""Graded citation labels (``eval/qrels/{dev,test}.jsonl``): which passages of the pages support each answer.

One JSON object per line, one line per labelled Q&A item::

    {"id": "<qa item id>", "passages": [{"document": "<doc id>", "quote": "<exact text of the page>",
                                         "grade": 2}]}

Grade 2: the quote answers the question; 1: it supports the answer. A quote is located once on its page (its
character span in the page's raw text, as the corpus ships it); a shown passage is relevant, with the quote's
grade, when its own span (``doc_id``, ``start``, ``end``: the chunk's offsets into the same text) contains the
quote or overlaps most of it (`COVER`). The eval thus scores the passages the assistant shows by where they
are on the page, never by matching their text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from .dataset import QAFormatError

COVER = 0.5  # a passage covers a quote when it holds more than this share of the quote's characters


class QrelsFormatError(QAFormatError):
    """A labels file that cannot be read or does not fit the pages; the message names the file and line."""


class LabelledPassage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    document: StrictStr = Field(min_length=1)
    quote: StrictStr = Field(min_length=1)
    grade: Literal[1, 2]


class LabelledItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(min_length=1)
    passages: list[LabelledPassage]


@dataclass(frozen=True)
class Quote:
    """A labelled quote located on its page: ``start``/``end`` index the page's raw text."""

    document: str
    start: int
    end: int
    grade: int

    @property
    def key(self) -> str:
        """The quote's id in a ranx Qrels: ``<document>:<start>-<end>``."""
        return f"{self.document}:{self.start}-{self.end}"


@dataclass(frozen=True)
class Span:
    """Where a shown passage lies: its document and character offsets (a citation's ``doc_id``/``start``/``end``)."""

    document: str
    start: int
    end: int


def covers(span: Span, quote: Quote, share: float = COVER) -> bool:
    """Whether ``span`` contains ``quote`` or overlaps more than ``share`` of its characters."""
    if span.document != quote.document:
        return False
    overlap = min(span.end, quote.end) - max(span.start, quote.start)
    return overlap > 0 and (overlap >= quote.end - quote.start or overlap > share * (quote.end - quote.start))


def grade(span: Span, quotes: Iterable[Quote]) -> int:
    """The best grade among the quotes ``span`` covers; 0 when it covers none (not relevant)."""
    return max((q.grade for q in quotes if covers(span, q)), default=0)


def _spans_of(quote: str, page: str) -> list[tuple[int, int]]:
    """Every place ``quote`` is on ``page``: exactly, else with any run of whitespace standing for another."""
    found = [(m.start(), m.end()) for m in re.finditer(re.escape(quote), page)]
    if not found:
        loose = r"\s+".join(re.escape(w) for w in quote.split())
        found = [(m.start(), m.end()) for m in re.finditer(loose, page)] if loose else []
    return found


def load_qrels(path: Path | str, pages: Mapping[str, str], ids: Sequence[str] | None = None
               ) -> dict[str, tuple[Quote, ...]]:
    """Read a labels file and locate every quote on its page.

    Args:
        path: the ``.jsonl`` file; blank lines are skipped.
        pages: document id -> the page's raw text (`pages_of`).
        ids: the Q&A items' ids, when known: a label for another item is an error.

    Returns:
        Q&A item id -> its quotes (an item may be labelled with none: nothing on the pages supports it).

    Raises:
        QrelsFormatError: on the first bad line (invalid JSON or field, unknown item or document, a quote that
            is not on its page, a repeated id), naming the file, the line and what to fix.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise QrelsFormatError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QrelsFormatError(f"{path}: cannot be read: {exc}") from exc
    known = set(ids) if ids is not None else None
    out: dict[str, tuple[Quote, ...]] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            item = LabelledItem.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise QrelsFormatError(f"{where}: not valid JSON: {exc.msg} at column {exc.colno}") from exc
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in err["loc"]) or "item"
            raise QrelsFormatError(f"{where}: field '{field}': {err['msg']}") from exc
        if known is not None and item.id not in known:
            raise QrelsFormatError(f"{where}: field 'id': {item.id!r} is no item of the Q&A file")
        if item.id in out:
            raise QrelsFormatError(f"{where}: field 'id': {item.id!r} is labelled twice; keep one line")
        quotes: list[Quote] = []
        for p in item.passages:
            if p.document not in pages:
                raise QrelsFormatError(f"{where}: document {p.document!r} is not in the corpus; known: "
                                       f"{', '.join(sorted(pages))}")
            spans = _spans_of(p.quote, pages[p.document])
            if not spans:
                raise QrelsFormatError(f"{where}: the quote {p.quote[:60]!r} is not on the page {p.document!r} "
                                       "(the page changed since it was labelled?): quote the page as it is now")
            quotes.extend(Quote(p.document, a, b, p.grade) for a, b in spans)
        out[item.id] = tuple(quotes)
    return out


def pages_of(corpus_dir: Path) -> dict[str, str]:
    """Document id -> raw text of every page of a corpus folder (what the chunks' offsets index)."""
    from ingest import load_documents

    return {d.id: d.text for d in load_documents(Path(corpus_dir))}


def default_qrels(qa: Path) -> Path | None:
    """The labels beside a Q&A split: ``eval/qa_dev.jsonl`` -> ``eval/qrels/dev.jsonl``, when that file exists."""
    split = qa.stem.removeprefix("qa_")
    path = qa.parent / "qrels" / f"{split}.jsonl"
    return path if split != qa.stem and path.is_file() else None
