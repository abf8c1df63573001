"""Typed value objects that flow out of ingestion: documents, sections, chunks, the catalogue."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field


@functools.lru_cache(maxsize=16)
def _code_pattern(codes: tuple[str, ...]) -> re.Pattern[str]:
    # Longest codes first so "M0.1" is not read as "M0"; word boundaries keep "M10" or "ME61" out.
    alternatives = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])({alternatives})(?![\w]|\.\d)")


def codes_in(text: str, codes: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``codes`` a text names, in order of first mention, without repeats."""
    return tuple(dict.fromkeys(_code_pattern(codes).findall(text))) if codes else ()


def content_hash(text: str) -> str:
    """A short, stable fingerprint of a text (sha256, first 12 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class DocumentMeta:
    """What the corpus says about one source page.

    The last three fields come from a web page (its breadcrumb trail, its last modification, its versions in
    other languages) and stay empty for a text file.
    """

    id: str
    title: str
    language: str = "en"
    source_url: str = ""
    breadcrumb: tuple[str, ...] = ()  # the section path on the site, e.g. ("Home", "Policy", "Human rights")
    modified: str = ""  # ISO 8601 date or date-time
    twins: tuple[tuple[str, str], ...] = ()  # (language, URL) of the same page in other languages, by language

    def twin(self, language: str) -> str | None:
        """The URL of this page in ``language``, when the page names one."""
        return dict(self.twins).get(language)


@dataclass(frozen=True)
class FetchFacts:
    """What the crawler learnt over HTTP about a page it saved (the page's sidecar ``<name>.crawl.json``)."""

    url: str  # the final URL, after redirects
    requested: str = ""  # the URL asked for, when a redirect led elsewhere
    modified: str = ""  # the Last-Modified header, ISO 8601
    fetched: str = ""  # when, ISO 8601 UTC

    def to_dict(self) -> dict:
        return {"url": self.url, "requested": self.requested, "modified": self.modified, "fetched": self.fetched}

    @classmethod
    def from_dict(cls, d: dict) -> FetchFacts:
        return cls(url=str(d["url"]), requested=str(d.get("requested") or ""),
                   modified=str(d.get("modified") or ""), fetched=str(d.get("fetched") or ""))


@dataclass(frozen=True)
class Document:
    """One source page: its metadata and its raw text exactly as shipped."""

    meta: DocumentMeta
    text: str
    path: str

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def title(self) -> str:
        return self.meta.title


@dataclass(frozen=True)
class Block:
    """A cleaned paragraph (a bullet list stays with its intro) with its span in the raw text."""

    text: str
    start: int
    end: int
    section: str | None
    offsets: tuple[int, ...] = ()  # raw offset of each character of ``text``


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage with full provenance.

    ``id`` is ``{doc_id}-{position:03d}-{hash}``: stable across rebuilds of the same corpus.
    ``start``/``end`` are character offsets into the source document's raw text; ``sentences`` are the
    spans (into ``text``) of its sentences as ingestion split them (a list stays with the sentence that
    introduces it), so that the answering stage quotes them without splitting the text again.
    """

    id: str
    doc_id: str
    doc_title: str
    section: str | None
    position: int
    text: str
    start: int
    end: int
    content_hash: str
    source: str = ""
    language: str = "en"
    directorates: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    sentences: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        for a, b in self.sentences:
            if not 0 <= a < b <= len(self.text):
                raise ValueError(f"chunk {self.id}: sentence span ({a}, {b}) is outside its text of "
                                 f"{len(self.text)} characters")

    @property
    def sentence_texts(self) -> tuple[str, ...]:
        """The passage's sentences (the whole text as one when the chunk records none)."""
        if not self.sentences:
            return (self.text,) if self.text else ()
        return tuple(self.text[a:b] for a, b in self.sentences)

    def embedding_text(self) -> str:
        """The text that is embedded and keyword-indexed: section heading plus passage."""
        return f"{self.section}. {self.text}" if self.section else self.text

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "doc_title": self.doc_title,
            "section": self.section,
            "position": self.position,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "content_hash": self.content_hash,
            "source": self.source,
            "language": self.language,
            "directorates": list(self.directorates),
            "themes": list(self.themes),
            "sentences": [list(s) for s in self.sentences],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Chunk:
        return cls(
            id=d["id"],
            doc_id=d["doc_id"],
            doc_title=d["doc_title"],
            section=d.get("section"),
            position=int(d["position"]),
            text=d["text"],
            start=int(d["start"]),
            end=int(d["end"]),
            content_hash=d["content_hash"],
            source=d.get("source", ""),
            language=d.get("language", "en"),
            directorates=tuple(d.get("directorates", ())),
            themes=tuple(d.get("themes", ())),
            sentences=tuple((int(a), int(b)) for a, b in d["sentences"]),
        )


@dataclass(frozen=True)
class Directorate:
    """One DGM unit from ``corpus/directorates.yaml``."""

    code: str
    name: str
    short_name: str
    remit: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    shared_with: tuple[str, ...] = ()
    kind: str = "directorate"  # or "service" for the horizontal services
    # The unit's name in Belgium's other languages, as (language, name) pairs: French, Dutch, German.
    names: tuple[tuple[str, str], ...] = ()

    def name_in(self, language: str | None) -> str:
        """The unit's name in ``language`` (ISO 639-1); the English ``name`` when the catalogue has none."""
        return next((n for lang, n in self.names if lang == language), self.name)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "short_name": self.short_name,
            "remit": self.remit,
            "aliases": list(self.aliases),
            "keywords": list(self.keywords),
            "shared_with": list(self.shared_with),
            "kind": self.kind,
            "names": dict(self.names),
        }


@dataclass(frozen=True)
class Theme:
    """A policy theme of the themes page, mapped to the DGM units responsible for it (maybe none)."""

    name: str
    directorates: tuple[str, ...]
    headings: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    outside_dgm: str = ""  # who handles it when no DGM unit does
    # Words that name the theme in a question; given for the themes no DGM unit holds, whose topics no unit's
    # keywords name (a question about migration names a topic of the pages, though no directorate's).
    keywords: tuple[str, ...] = ()
    # ``outside_dgm`` in Belgium's other languages, as (language, text) pairs.
    outside_dgm_translations: tuple[tuple[str, str], ...] = ()

    def outside_dgm_in(self, language: str | None) -> str:
        """``outside_dgm`` in ``language`` (ISO 639-1); the English text when the catalogue has none."""
        return next((t for lang, t in self.outside_dgm_translations if lang == language), self.outside_dgm)

    def to_dict(self) -> dict:
        return {"name": self.name, "directorates": list(self.directorates), "headings": list(self.headings),
                "anchors": list(self.anchors), "outside_dgm": self.outside_dgm, "keywords": list(self.keywords),
                "outside_dgm_translations": dict(self.outside_dgm_translations)}


@dataclass(frozen=True)
class Catalogue:
    """The directorate catalogue and the theme map, validated."""

    directorates: tuple[Directorate, ...]
    themes: tuple[Theme, ...] = field(default=())

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.directorates)

    def codes_in(self, text: str) -> tuple[str, ...]:
        """The catalogue's codes named in ``text``, in order of first mention, without repeats."""
        return codes_in(text, self.codes)

    def to_dict(self) -> dict:
        return {"directorates": [d.to_dict() for d in self.directorates], "themes": [t.to_dict() for t in self.themes]}

    @classmethod
    def from_dict(cls, d: dict) -> Catalogue:
        return cls(
            directorates=tuple(Directorate(**{**x, "aliases": tuple(x["aliases"]), "keywords": tuple(x["keywords"]),
                                              "shared_with": tuple(x["shared_with"]),
                                              "names": tuple(x.get("names", {}).items())})
                               for x in d["directorates"]),
            themes=tuple(Theme(name=t["name"], directorates=tuple(t["directorates"]), headings=tuple(t["headings"]),
                               anchors=tuple(t["anchors"]), outside_dgm=t.get("outside_dgm", ""),
                               keywords=tuple(t.get("keywords", ())),
                               outside_dgm_translations=tuple(t.get("outside_dgm_translations", {}).items()))
                         for t in d.get("themes", ())),
        )

    def profile_texts(self) -> list[str]:
        """One text per unit, in catalogue order: its name, code, remit and topics, which a question is
        compared with as a whole."""
        return [f"{d.name} ({d.code}). {d.remit} Topics: {', '.join(d.keywords)}." for d in self.directorates]

    def descriptors(self) -> list[tuple[int, str]]:
        """Each unit's name, aliases and keywords one by one, as (unit's position, text): contiguous per unit,
        in catalogue order, without repeats within a unit."""
        return [(i, p) for i, d in enumerate(self.directorates)
                for p in dict.fromkeys((d.name, *d.aliases, *d.keywords))]

    def theme(self, name: str) -> Theme | None:
        return next((t for t in self.themes if t.name == name), None)

    def get(self, code: str) -> Directorate:
        for d in self.directorates:
            if d.code.lower() == code.lower():
                return d
        raise KeyError(code)
