"""Boilerplate across pages: a paragraph that a site repeats on many of its pages is not a passage.

trafilatura drops navigation, cookie banners and footers page by page; what it cannot tell from one page
is a paragraph inside the main content that every page repeats (a feedback prompt, a disclaimer, a
"last reviewed" stub). The rule, over the documents of one language: a paragraph that occurs on at least
``share`` of them (50 %), when there are at least ``min_pages`` of them (4), is dropped from all of them.
Paragraphs are compared with their whitespace collapsed and case folded. Counted per language because
each language version repeats its own boilerplate: over all four languages, a paragraph found on every
French page would be on only a quarter of the pages. Fewer than four pages of a language (the shipped
corpus has two English ones) keep every paragraph.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from .clean import split_blocks
from .models import Document

REPEATED_SHARE = 0.5
MIN_PAGES = 4


def paragraph_key(text: str) -> str:
    """What two paragraphs must share to count as the same one."""
    return " ".join(text.split()).casefold()


def repeated_paragraphs(docs: Iterable[Document], share: float = REPEATED_SHARE,
                        min_pages: int = MIN_PAGES) -> dict[str, frozenset[str]]:
    """The boilerplate paragraphs of a corpus, per language.

    Args:
        docs: the corpus's documents.
        share: the share of a language's documents a paragraph must occur on to be boilerplate.
        min_pages: below this many documents of a language, none of its paragraphs is.

    Returns:
        Language -> keys (``paragraph_key``) of the paragraphs to drop; languages without any are left out.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if min_pages < 2:
        raise ValueError(f"min_pages must be at least 2, got {min_pages}")
    by_language: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        by_language[doc.meta.language].append(doc)
    out: dict[str, frozenset[str]] = {}
    for language, group in by_language.items():
        if len(group) < min_pages:
            continue
        counts = Counter(key for doc in group for key in {paragraph_key(b.text) for b in split_blocks(doc.text)})
        needed = math.ceil(share * len(group))
        repeated = frozenset(key for key, n in counts.items() if n >= needed)
        if repeated:
            out[language] = repeated
    return out
