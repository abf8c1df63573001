"""Extractive, cited answers: sentences taken from the retrieved passages, each followed by [n]."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from ingest.chunk import sentence_units
from ingest.models import Block, Chunk

from .models import Citation, Hit, Routing
from .question import focus_query

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stemmer().stemWords([w.lower() for w in _WORD.findall(text) if len(w) > 2]))


@lru_cache(maxsize=8192)
def _sentence_stems(sentence: str) -> frozenset[str]:
    """`_stems` of a passage sentence: the corpus's sentences repeat from answer to answer, so cached."""
    return _stems(sentence)


@lru_cache(maxsize=4096)
def sentences(text: str) -> tuple[str, ...]:
    """A passage's sentences, split as ingestion split them (a list stays with its intro), cached."""
    block = Block(text=text, start=0, end=len(text), section=None)
    return tuple(text[a:b] for a, b in sentence_units(block))


def best_sentences(query: str, chunk: Chunk, limit: int = 2, fallback: bool = True) -> list[str]:
    """The sentences of a passage that share most topical words with the query, in passage order.

    When none shares a word: the passage's first sentence with ``fallback``, else nothing.
    """
    sents = sentences(chunk.text)
    q = _stems(focus_query(query))
    scored = [(len(q & _sentence_stems(s)), -i, s) for i, s in enumerate(sents)]
    top = sorted(scored, reverse=True)[:limit]
    if not top or top[0][0] == 0:
        return list(sents[:1]) if fallback else []
    keep = {s for score, _, s in top if score > 0}
    return [s for s in sents if s in keep]


def citations_from(hits: Sequence[Hit]) -> tuple[Citation, ...]:
    return tuple(Citation(n=i, id=h.chunk.id, title=h.chunk.doc_title, section=h.chunk.section,
                          source=h.chunk.source or None, text=h.chunk.text, score=round(float(h.score), 6),
                          doc_id=h.chunk.doc_id, start=h.chunk.start, end=h.chunk.end)
                 for i, h in enumerate(hits, start=1))


def _n_of(citations: Sequence[Citation], chunk_id: str | None) -> int | None:
    return next((c.n for c in citations if c.id == chunk_id), None)


def compose(query: str, hits: Sequence[Hit], citations: Sequence[Citation], routing: Routing | None,
            route_question: bool, max_passages: int = 2, depth: int = 3) -> str:
    """The answer text. For "who handles X" questions it leads with the directorate and its remit passage."""
    parts: list[str] = []
    used: set[str] = set()
    if routing is not None and routing.primary is not None:
        p = routing.primary
        n = _n_of(citations, p.evidence_id)
        ref = f" [{n}]" if n else ""
        lead = "This is handled by" if route_question else "Within the DGM, the matching directorate is"
        parts.append(f"{lead} the {p.name} ({p.code}){ref}.")
        if p.shared_with:
            parts.append(f"It works under the joint responsibility of the DGM and the {' and the '.join(p.shared_with)}"
                         f"{ref}.")
        if routing.secondary is not None:
            s = routing.secondary
            m = _n_of(citations, s.evidence_id)
            parts.append(f"The {s.name} ({s.code}) is also involved{f' [{m}]' if m else ''}.")
        if routing.disagreement:
            parts.append("The signals do not all point to the same directorate, so check the cited remit "
                         "before relying on this.")
        if n and route_question:
            ev = next(h for h in hits if h.chunk.id == p.evidence_id)
            parts.extend(f"{s} [{n}]" for s in best_sentences(query, ev.chunk, limit=2))
            used.add(ev.chunk.id)
    elif routing is not None and routing.no_fit:
        parts.append(f"No DGM directorate holds this topic ({routing.no_fit}).")
    if route_question and used:
        return " ".join(parts)  # a "who" question is answered by the remit passage
    # The best passage speaks first, whatever its words (a paraphrase may share none with it). A later one
    # speaks only with sentences that share a topical word with the question, and, when the answer names a
    # unit, only if the passage is labelled with that unit: the second-ranked passage is often another topic
    # altogether ("food security" under a death-penalty question, election observers under a cybersecurity
    # one, by the word "part"), which put unrelated text in the answer.
    # Likewise an answer about a theme no unit holds quotes only that theme's passages ("human rights" under a
    # human-trafficking question, by the word "human").
    on_topic = {m.code for m in (routing.primary, routing.secondary) if m is not None} if routing else set()
    theme = set(hits[0].chunk.themes) if routing is not None and routing.no_fit and hits else set()
    for rank, h in enumerate(hits[:depth]):
        if len(used) >= max_passages:
            break
        if h.chunk.id in used or (rank > 0 and on_topic and not on_topic.intersection(h.chunk.directorates)) \
                or (rank > 0 and theme and not theme.intersection(h.chunk.themes)):
            continue
        picked = best_sentences(query, h.chunk, limit=2, fallback=rank == 0)
        if not picked:
            continue
        n = _n_of(citations, h.chunk.id)
        parts.extend(f"{s} [{n}]" for s in picked)
        used.add(h.chunk.id)
    return " ".join(parts)


def abstention_text(suggestions: Sequence[str], question_type: str) -> str:
    text = ("I'm sorry, the FPS pages I draw on do not cover this question, so I cannot give you a reliable "
            "answer.")
    if question_type == "consular":
        text += (" Passports, visas and consular help are not part of the multilateral policy pages I know; "
                 "the FPS Foreign Affairs consular services are the right contact.")
    if suggestions:
        text += " I can tell you about: " + "; ".join(suggestions) + "."
    return text
