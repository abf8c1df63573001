"""Directorate labels for paragraphs: codes named in the text and the curated theme map."""

from __future__ import annotations

from .models import Theme
from .models import codes_in as _codes_in


def codes_in(text: str, codes: tuple[str, ...]) -> tuple[str, ...]:
    """Directorate codes named in a text, in order of first mention, without repeats."""
    return _codes_in(text, codes)


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


def block_labels(text: str, section: str | None, themes: tuple[Theme, ...],
                 codes: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Directorate codes (those of ``codes`` the paragraph names, then its themes') and theme names."""
    matched = themes_for(text, section, themes)
    found = list(codes_in(text, codes))
    for t in matched:
        found.extend(t.directorates)
    return tuple(dict.fromkeys(found)), tuple(t.name for t in matched)
