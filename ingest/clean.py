"""Clean scraped page text into paragraphs under section headings, keeping raw character offsets.

Every cleaned character remembers where it came from in the raw text, so a chunk can report the span
of the source page it was cut from even after debris and repeated whitespace were removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Block

_DEBRIS_LINE = re.compile(r"^(?:[-–—•*_=]+|last updated on\b.*|\d{1,2}/\d{1,2}/\d{2,4})$", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-–—•*]|\d+[.)])\s+")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_TRAILING_DASH = re.compile(r"\s*[-–—]+$")
_SENTENCE_END = (".", ",", ";", ":", "!")

# A heading is a short line that does not read like a sentence.
MAX_HEADING_WORDS = 8


@dataclass(frozen=True)
class CleanLine:
    """One cleaned line: its text and, for each character, the offset in the raw text."""

    text: str
    offsets: tuple[int, ...]
    is_heading: bool
    is_bullet: bool


def _collapse(raw: str, base: int) -> tuple[str, list[int]]:
    """Collapse runs of whitespace to one space and trim, mapping each kept char to its raw offset."""
    out: list[str] = []
    offs: list[int] = []
    pending_space = False
    for i, ch in enumerate(raw):
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            offs.append(base + i - 1)
            pending_space = False
        out.append(ch)
        offs.append(base + i)
    return "".join(out), offs


def is_heading_text(text: str) -> bool:
    words = text.split()
    return (
        0 < len(words) <= MAX_HEADING_WORDS
        and not text.endswith(_SENTENCE_END)
        and text[0].isupper()
        and not _BULLET.match(text)
    )


def clean_lines(raw: str) -> list[CleanLine]:
    """Split raw text into cleaned lines, dropping debris (lone dashes, "Last updated on" stubs)."""
    lines: list[CleanLine] = []
    pos = 0
    for raw_line in raw.splitlines(keepends=True):
        base = pos
        pos += len(raw_line)
        text, offs = _collapse(raw_line, base)
        md_heading = _MD_HEADING.match(text)
        if md_heading:
            cut = md_heading.end()
            text, offs = text[cut:], offs[cut:]
        dash = _TRAILING_DASH.search(text)
        if dash and dash.start() > 0:
            text, offs = text[: dash.start()], offs[: dash.start()]
        if not text or _DEBRIS_LINE.match(text):
            continue
        bullet = bool(_BULLET.match(text))
        lines.append(CleanLine(text, tuple(offs), bool(md_heading) or is_heading_text(text), bullet))
    return lines


def split_blocks(raw: str) -> list[Block]:
    """Group cleaned lines into paragraphs under the latest heading.

    A bullet line joins the paragraph before it (a list stays with the sentence that introduces it),
    and a line ending with ':' is joined to the line after it.
    """
    blocks: list[tuple[str | None, list[CleanLine]]] = []
    section: str | None = None
    glue_next = False
    for line in clean_lines(raw):
        if line.is_heading and not line.is_bullet:
            section = line.text
            glue_next = False
            continue
        if (line.is_bullet or glue_next) and blocks and blocks[-1][0] == section:
            blocks[-1][1].append(line)
        else:
            blocks.append((section, [line]))
        glue_next = line.text.endswith(":")
    out: list[Block] = []
    for sec, lines in blocks:
        text_parts: list[str] = []
        offsets: list[int] = []
        for i, ln in enumerate(lines):
            if i:
                text_parts.append("\n")
                offsets.append(ln.offsets[0])
            text_parts.append(ln.text)
            offsets.extend(ln.offsets)
        out.append(Block(text="".join(text_parts), start=offsets[0], end=offsets[-1] + 1,
                         section=sec, offsets=tuple(offsets)))
    return out
