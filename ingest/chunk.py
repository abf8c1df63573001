"""Sentence-bounded chunking with provenance: pure functions from a document to chunks."""

from __future__ import annotations

from functools import lru_cache

from .boilerplate import paragraph_key
from .clean import split_blocks
from .label import block_labels, codes_in
from .models import Block, Chunk, Document, Theme, content_hash


@lru_cache(maxsize=4)
def _segmenter(language: str):
    import pysbd

    try:
        return pysbd.Segmenter(language=language, clean=False)
    except ValueError:  # pysbd does not know the language: English rules are the safest fallback
        return pysbd.Segmenter(language="en", clean=False)


def sentence_units(block: Block, language: str = "en") -> list[tuple[int, int]]:
    """Spans (into ``block.text``) of the block's units: sentences, each bullet line glued to the
    sentence before it, and a sentence ending with ':' glued to what follows it."""
    seg = _segmenter(language)
    units: list[list[int]] = []
    pos = 0
    glue = False
    for line in block.text.split("\n"):
        line_start = block.text.index(line, pos) if line else pos
        pos = line_start + len(line)
        is_bullet = line.lstrip().startswith(("-", "–", "—", "•", "*"))
        cursor = line_start
        first = True
        for sent in seg.segment(line):
            s = sent.strip()
            if not s:
                continue
            start = block.text.index(s, cursor)
            end = start + len(s)
            cursor = end
            # A bullet item joins the sentence that introduces the list (only its first sentence).
            if units and (glue or (is_bullet and first)):
                units[-1][1] = end
            else:
                units.append([start, end])
            glue = s.endswith(":")
            first = False
    return [(a, b) for a, b in units]


def _words(text: str) -> int:
    return len(text.split())


def pack(units: list[tuple[int, int]], text: str, max_words: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of units into windows of at most ``max_words`` words (a unit longer than that
    stands alone: sentences are never cut), each window repeating the last ``overlap`` units."""
    return [(units[a][0], units[b - 1][1]) for a, b in pack_windows(units, text, max_words, overlap)]


def pack_windows(units: list[tuple[int, int]], text: str, max_words: int, overlap: int) -> list[tuple[int, int]]:
    """`pack`'s windows as (first unit, past-the-last unit) indices into ``units``."""
    windows: list[tuple[int, int]] = []
    i = 0
    n = len(units)
    while i < n:
        j = i
        words = 0
        while j < n:
            w = _words(text[units[j][0]:units[j][1]])
            if j > i and words + w > max_words:
                break
            words += w
            j += 1
        windows.append((i, j))
        if j >= n:
            break
        # Step back by `overlap` units, but always advance by at least one.
        i = max(j - overlap, i + 1)
    return windows


def chunk_document(doc: Document, max_words: int = 100, overlap: int = 1,
                   themes: tuple[Theme, ...] = (), drop: frozenset[str] = frozenset(),
                   codes: tuple[str, ...] = (), page_units_below: int = 0) -> list[Chunk]:
    """Cut a document into sentence-bounded chunks labelled with directorates and themes.

    Args:
        doc: the source document (raw text as shipped).
        max_words: upper bound on a chunk's words unless a single sentence (with its list) is longer.
        overlap: number of sentences repeated at the start of the next chunk of the same paragraph.
        themes: the curated theme map, for directorate labels of policy-theme paragraphs.
        drop: paragraphs to leave out, as ``boilerplate.paragraph_key``s (the site's repeated boilerplate).
        codes: the catalogue's unit codes; a paragraph that names one is labelled with it.
        page_units_below: a paragraph that names no unit and belongs to no theme takes the units the page's
            other paragraphs name (the page is about their work), when they are fewer than this: a page naming
            that many is about a whole directorate-general (a structure page). 0: never.

    Returns:
        Chunks in document order; ``start``/``end`` index ``doc.text``, ``sentences`` the chunk's text.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    if overlap < 0:
        raise ValueError(f"overlap must be 0 or more, got {overlap}")
    chunks: list[Chunk] = []
    blocks = [b for b in split_blocks(doc.text) if not (drop and paragraph_key(b.text) in drop)]
    named = codes_in("\n".join(b.text for b in blocks), codes) if page_units_below else ()
    page_codes = named if len(named) < page_units_below else ()
    for block in blocks:
        labels, theme_names = block_labels(block.text, block.section, themes, codes)
        if not labels and not theme_names:  # a theme that no unit holds keeps its no-unit label
            labels = page_codes
        units = sentence_units(block, doc.meta.language)
        for first, last in pack_windows(units, block.text, max_words, overlap):
            a, b = units[first][0], units[last - 1][1]
            text = block.text[a:b]
            h = content_hash(f"{block.section}\n{text}")
            pos = len(chunks)
            chunks.append(Chunk(
                id=f"{doc.id}-{pos:03d}-{h[:8]}",
                doc_id=doc.id,
                doc_title=doc.title,
                section=block.section,
                position=pos,
                text=text,
                start=block.offsets[a],
                end=block.offsets[b - 1] + 1,
                content_hash=h,
                source=doc.meta.source_url,
                language=doc.meta.language,
                directorates=labels,
                themes=theme_names,
                twins=doc.meta.twins,
                # The sentences, split once here: the answering stage quotes them and never splits again.
                sentences=tuple((u - a, v - a) for u, v in units[first:last]),
            ))
    return chunks
