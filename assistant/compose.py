"""Extractive, cited answers: sentences taken from the retrieved passages, each followed by [n], and the
sentences around them (which unit handles the topic, the caveats, the refusal) in the question's language.

The quoted passages stay in their page's language; the framing sentences are templates in the ``answer``
section of each language's lexicon (``assistant/question/lexicon/{en,fr,nl,de}.yaml``), with the other words
of that language, so that one file per language holds everything the assistant reads and writes in it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from ingest.models import Catalogue, Chunk, Directorate, Theme

from .models import Citation, DirectorateMatch, Hit, Passage, Routing
from .question import LANGUAGES, focus_query, stemmer
from .question.words import Joins, fill, joins, lexicon_path, lexicon_section, unit_phrase
from .route import speaks_for

_WORD = re.compile(r"\w+", re.UNICODE)


def _stems(text: str) -> frozenset[str]:
    return frozenset(stemmer("en").stemWords([w.lower() for w in _WORD.findall(text) if len(w) > 2]))


@lru_cache(maxsize=8192)
def _sentence_stems(sentence: str) -> frozenset[str]:
    """`_stems` of a passage sentence: the corpus's sentences repeat from answer to answer, so cached."""
    return _stems(sentence)


def best_sentences(query: str, chunk: Chunk, limit: int = 2, fallback: bool = True) -> list[str]:
    """The sentences of a passage (as ingestion split them) that share most topical words with the query, in
    passage order.

    When none shares a word: the passage's first sentence with ``fallback``, else nothing.
    """
    sents = chunk.sentence_texts
    q = _stems(focus_query(query))
    scored = [(len(q & _sentence_stems(s)), -i, s) for i, s in enumerate(sents)]
    top = sorted(scored, reverse=True)[:limit]
    if not top or top[0][0] == 0:
        return list(sents[:1]) if fallback else []
    keep = {s for score, _, s in top if score > 0}
    return [s for s in sents if s in keep]


_FRAGMENT_WORDS = 6  # words of the passage's first sentence a text fragment quotes (enough to be unique)


def text_fragment(url: str, sentence: str) -> str:
    """``url`` opened at ``sentence``: a text fragment (``#:~:text=``, supported by current browsers; others
    open the page at its top) quoting its first words."""
    words = sentence.split()[:_FRAGMENT_WORDS]
    if not words:
        return url
    # The fragment's own syntax characters ('-', ',', '&') must be percent-encoded inside the quoted text.
    quoted = quote(" ".join(words), safe="").replace("-", "%2D")
    return f"{url.split('#', 1)[0]}#:~:text={quoted}"


def _is_address(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def passage_of(hit: Hit, rank: int) -> Passage:
    """A retrieved passage as the answer shows it (``rank``: its place in the retrieved list, from 1)."""
    c = hit.chunk
    url = c.source if _is_address(c.source) else None
    first = c.sentence_texts[0] if c.sentence_texts else ""
    return Passage(id=c.id, title=c.doc_title, section=c.section, source=c.source or None, text=c.text,
                   score=round(float(hit.score), 6), doc_id=c.doc_id, start=c.start, end=c.end, url=url,
                   link=text_fragment(url, first) if url else None, rank=rank,
                   twins=c.twins)


@dataclass(frozen=True)
class Composed:
    """An answer's text and what it stands on: ``cited`` the passages (chunk ids) in the order the text refers
    to them (its marker [n] is the n-th), ``quoted`` those whose sentences it quotes."""

    text: str
    cited: tuple[str, ...]
    quoted: frozenset[str]


def cite(hits: Sequence[Hit], composed: Composed, routing: Routing | None, *, unquoted_ratio: float | None = None
         ) -> tuple[tuple[Citation, ...], tuple[Passage, ...]]:
    """Split the retrieved passages into the answer's citations and the related passages.

    The citations are the passages the text refers to, numbered in that order; with ``unquoted_ratio``, then
    any other passage that scores at least that share of the best retrieved passage (not far below it, though
    the answer does not quote it). A unit's remit passage has the role ``remit``, the others ``answer``. Every
    other passage is ``related``, best first. Each keeps its ``rank`` in ``hits``.
    """
    if unquoted_ratio is not None and not 0 < unquoted_ratio <= 1:
        raise ValueError(f"unquoted_ratio must be within (0, 1] or None, got {unquoted_ratio}")
    ranked = {h.chunk.id: (rank, h) for rank, h in enumerate(hits, start=1)}
    remits = {m.evidence_id for m in (routing.primary, routing.secondary) if m is not None} if routing else set()
    best = max((h.score for h in hits), default=0.0)
    order = [i for i in composed.cited if i in ranked]
    if unquoted_ratio is not None:
        order += [h.chunk.id for h in hits if h.chunk.id not in order and best > 0 and h.score >= unquoted_ratio * best]
    citations = tuple(Citation(**vars(passage_of(ranked[i][1], ranked[i][0])), n=n,
                               role="remit" if i in remits else "answer")
                      for n, i in enumerate(order, start=1))
    related = tuple(passage_of(h, rank) for rank, h in enumerate(hits, start=1) if h.chunk.id not in order)
    return citations, related


# The framing sentences and the values each is given.
_TEMPLATES: dict[str, frozenset[str]] = {
    "handled_by": frozenset({"unit", "ref"}), "matching": frozenset({"unit", "ref"}),
    "shared": frozenset({"others", "ref"}), "shared_joiner": frozenset(),
    "secondary": frozenset({"unit", "ref"}), "uncertain": frozenset(),
    "no_fit": frozenset({"why"}), "no_fit_why": frozenset({"theme", "outside"}),
    "only_in": frozenset({"language"}), "abstain": frozenset(), "consular": frozenset(),
    "suggestions": frozenset({"topics"}), "suggestions_joiner": frozenset(),
}
_FIELDS = re.compile(r"\{(\w*)\}")


@dataclass(frozen=True)
class AnswerTexts:
    """One language's framing sentences (`answer_texts`)."""

    language: str
    templates: Mapping[str, str]
    language_names: Mapping[str, str]  # ISO 639-1 code -> the language's name in this language
    joins: Joins

    def fill(self, key: str, **values: str) -> str:
        """The template ``key`` with ``values`` put in."""
        return fill(self.templates[key], self.joins, **values)

    def say(self, key: str, **values: str) -> str:
        """The sentence ``key`` with ``values`` put in, starting with a capital."""
        text = self.fill(key, **values)
        return text[:1].upper() + text[1:]

    def joiner(self, key: str) -> str:
        return self.templates[key]

    def language_name(self, code: str) -> str:
        return self.language_names.get(code, code)


@functools.cache
def answer_texts(language: str | None) -> AnswerTexts:
    """The framing sentences of ``language`` (English for a language without a lexicon), read and checked once:
    every sentence present, with exactly the placeholders the code fills."""
    lang = language if language in LANGUAGES else "en"
    path = lexicon_path(lang)
    data = lexicon_section(lang, "answer")
    templates: dict[str, str] = {}
    for key, fields in _TEMPLATES.items():
        text = data.get(key)
        if not isinstance(text, str) or not text:
            raise ValueError(f"{path}: answer.{key} must be a non-empty text")
        found = frozenset(_FIELDS.findall(text))
        if found != fields:
            raise ValueError(f"{path}: answer.{key} must use the placeholder(s) "
                             f"{', '.join('{' + f + '}' for f in sorted(fields)) or 'none'}, "
                             f"got {', '.join('{' + f + '}' for f in sorted(found)) or 'none'}")
        templates[key] = text
    names = data.get("language_names")
    if not isinstance(names, dict) or set(names) != set(LANGUAGES):
        raise ValueError(f"{path}: answer.language_names must name each of {', '.join(LANGUAGES)}")
    return AnswerTexts(lang, templates, {str(k): str(v) for k, v in names.items()}, joins(lang))


def _unit(match: DirectorateMatch, catalogue: Catalogue | None, language: str | None) -> str:
    """How a sentence in ``language`` names a matched unit (its catalogue entry gives its name and kind)."""
    try:
        d = catalogue.get(match.code) if catalogue is not None else None
    except KeyError:
        d = None
    if d is None:
        d = Directorate(code=match.code, name=match.name, short_name=match.short_name, remit="")
    return unit_phrase(d, language)


def _no_fit_theme(hits: Sequence[Hit], catalogue: Catalogue | None) -> Theme | None:
    """The theme no unit holds that routing found for the best passage (the router's own rule)."""
    if catalogue is None or not hits:
        return None
    for name in hits[0].chunk.themes:
        theme = catalogue.theme(name)
        if theme is not None and not theme.directorates and theme.outside_dgm:
            return theme
    return None


def compose(query: str, hits: Sequence[Hit], routing: Routing | None, route_question: bool, max_passages: int = 2,
            depth: int = 3, *, later_ratio: float = 0.0, language: str | None = None,
            catalogue: Catalogue | None = None) -> Composed:
    """The answer text and the passages it refers to. For "who handles X" questions it leads with the
    directorate and its remit passage.

    Args:
        hits: the retrieved passages, best first (the routed unit's remit passage among them).
        max_passages: most passages quoted; ``depth``: how far down ``hits`` a quote may come from.
        later_ratio: a passage after the best one is quoted only when it scores at least this share of the
            best one's score (0: whatever its score).
        language: the question's language (ISO 639-1): the framing sentences and the units' names are in it,
            and a quoted passage from a page in another language is announced once. English when None.
        catalogue: the units' names and kinds and the themes, for the names in ``language``.
    """
    texts = answer_texts(language)
    parts: list[str] = []
    used: set[str] = set()
    announced: set[str] = set()
    order: dict[str, int] = {}  # chunk id -> its marker, numbered as the text first refers to it
    present = {h.chunk.id for h in hits}

    def ref(chunk_id: str | None) -> int | None:
        if chunk_id is None or chunk_id not in present:
            return None
        return order.setdefault(chunk_id, len(order) + 1)

    def quote(chunk: Chunk, sents: Sequence[str]) -> None:
        # Passages are quoted in their page's language; say so once when it is not the question's.
        if language is not None and sents and chunk.language != language and chunk.language not in announced:
            announced.add(chunk.language)
            parts.append(texts.say("only_in", language=texts.language_name(chunk.language)))
        n = ref(chunk.id)
        parts.extend(f"{s} [{n}]" for s in sents)
        used.add(chunk.id)

    if routing is not None and routing.primary is not None:
        p = routing.primary
        # A "who" question is answered by the passage that leads for it: the first, when it speaks for the unit
        # (a page saying this unit follows the topic asked about), else the unit's remit passage.
        lead_id = hits[0].chunk.id if route_question and hits and catalogue is not None \
            and speaks_for(hits[0].chunk, p.code, catalogue) else p.evidence_id
        n = ref(lead_id)
        ref_text = f" [{n}]" if n else ""
        parts.append(texts.say("handled_by" if route_question else "matching", unit=_unit(p, catalogue, language),
                               ref=ref_text))
        if p.shared_with:
            parts.append(texts.say("shared", others=texts.joiner("shared_joiner").join(p.shared_with),
                                   ref=ref_text))
        if routing.secondary is not None:
            s = routing.secondary
            m = ref(s.evidence_id)
            parts.append(texts.say("secondary", unit=_unit(s, catalogue, language), ref=f" [{m}]" if m else ""))
        if routing.uncertain:  # the confidence shown is low: the same decision says so
            parts.append(texts.say("uncertain"))
        if n and route_question:
            ev = next(h for h in hits if h.chunk.id == lead_id)
            quote(ev.chunk, best_sentences(query, ev.chunk, limit=2))
    elif routing is not None and routing.no_fit:
        held = _no_fit_theme(hits, catalogue)
        why = texts.fill("no_fit_why", theme=held.name, outside=held.outside_dgm_in(texts.language)) \
            if held is not None else routing.no_fit
        parts.append(texts.say("no_fit", why=why))

    def done() -> Composed:
        return Composed(" ".join(parts), tuple(order), frozenset(used))

    if route_question and used:
        return done()  # a "who" question is answered by the passage that speaks for the unit
    # The best passage speaks first, whatever its words (a paraphrase may share none with it). A later one
    # speaks only with sentences that share a topical word with the question, and, when the answer names a
    # unit, only if the passage is labelled with that unit: the second-ranked passage is often another topic
    # altogether ("food security" under a death-penalty question, election observers under a cybersecurity
    # one, by the word "part"), which put unrelated text in the answer.
    # Likewise an answer about a theme no unit holds quotes only that theme's passages ("human rights" under a
    # human-trafficking question, by the word "human").
    on_topic = {m.code for m in (routing.primary, routing.secondary) if m is not None} if routing else set()
    theme = set(hits[0].chunk.themes) if routing is not None and routing.no_fit and hits else set()
    best = hits[0].score if hits else 0.0
    for rank, h in enumerate(hits[:depth]):
        if len(used) >= max_passages:
            break
        if h.chunk.id in used or (rank > 0 and on_topic and not on_topic.intersection(h.chunk.directorates)) \
                or (rank > 0 and theme and not theme.intersection(h.chunk.themes)) \
                or (rank > 0 and h.score < later_ratio * best):
            continue
        picked = best_sentences(query, h.chunk, limit=2, fallback=rank == 0)
        if picked:
            quote(h.chunk, picked)
    return done()


def abstention_text(suggestions: Sequence[str], question_type: str, language: str | None = None) -> str:
    """The refusal, in ``language`` (English when None): the consular services named for a question asking for a
    service (a passport, a visa, help abroad ...),
    and the covered topics nearest to the question (the pages' own theme names) offered."""
    texts = answer_texts(language)
    parts = [texts.say("abstain")]
    if question_type == "service":
        parts.append(texts.say("consular"))
    if suggestions:
        parts.append(texts.say("suggestions", topics=texts.joiner("suggestions_joiner").join(suggestions)))
    return " ".join(parts)


def suggestion_topics(hits: Sequence[Hit], catalogue: Catalogue | None, language: str | None,
                      limit: int = 3) -> tuple[str, ...]:
    """Topics to offer after a refusal, nearest to the question first: for each retrieved passage, the first of
    its themes that is a topic (a DGM unit holds it, or a question can name it: the page's navigation text is
    neither), else the unit it is labelled with, named in the question's language. A section heading is never
    offered: it names a part of a page ("Structure"), not a topic."""
    out: list[str] = []
    for h in hits:
        topic = None
        if catalogue is not None:
            themes = (catalogue.theme(name) for name in h.chunk.themes)
            topic = next((t.name for t in themes if t is not None and (t.directorates or t.keywords)), None)
            if topic is None:
                for code in h.chunk.directorates:
                    try:
                        name = catalogue.get(code).name_in(language)
                    except KeyError:
                        continue
                    topic = name[:1].upper() + name[1:]
                    break
        if topic is not None and topic not in out:
            out.append(topic)
        if len(out) >= limit:
            break
    return tuple(out)
