"""Directorate labels for paragraphs: codes named in the text and the curated theme map."""

from __future__ import annotations

import re

from .catalogue import KNOWN_CODES
from .models import Theme

# Longest codes first so "M0.1" is not read as "M0"; word boundaries keep "M10" or "ME61" out.
_CODE_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(c) for c in sorted(KNOWN_CODES, key=len, reverse=True))
                      + r")(?![\w]|\.\d)")


def codes_in(text: str) -> tuple[str, ...]:
    """Directorate codes named in a text, in order of first mention, without repeats."""
    return tuple(dict.fromkeys(_CODE_RE.findall(text)))


def themes_for(text: str, section: str | None, themes: tuple[Theme, ...]) -> tuple[Theme, ...]:
    """The themes a paragraph belongs to: an anchor at its start wins over its section heading."""
    head = " ".join(text.split()).lower()
    anchored = tuple(t for t in themes if any(head.startswith(a.lower()) for a in t.anchors))
    if anchored:
        return anchored
    if section is None:
        return ()
    sec = section.lower()
    return tuple(t for t in themes if any(h.lower() == sec for h in t.headings))


def block_labels(text: str, section: str | None, themes: tuple[Theme, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Directorate codes and theme names for one paragraph."""
    matched = themes_for(text, section, themes)
    codes = list(codes_in(text))
    for t in matched:
        codes.extend(t.directorates)
    return tuple(dict.fromkeys(codes)), tuple(t.name for t in matched)
