"""Typed value objects that flow out of ingestion: documents, sections, chunks, the catalogue."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator


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
    twins: tuple[tuple[str, str], ...] = ()  # the page in other languages, (language, URL): its DocumentMeta's
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
            "twins": dict(self.twins),
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
            twins=tuple(sorted((str(k), str(v)) for k, v in (d.get("twins") or {}).items())),
            sentences=tuple((int(a), int(b)) for a, b in d["sentences"]),
        )


# The languages a unit's name, remit or a theme's ``outside_dgm`` may be given in besides the catalogue's own.
Language = Literal["en", "fr", "nl", "de"]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _one_line(value: object) -> object:
    """Runs of whitespace (a YAML folded block, a page's line breaks) read as one space."""
    return " ".join(value.split()) if isinstance(value, str) else value


_Prose = Annotated[str, BeforeValidator(_one_line)]
_Name = Annotated[str, BeforeValidator(_one_line), StringConstraints(min_length=1)]
_Words = tuple[_Text, ...]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Directorate(_Frozen):
    """One unit of a directorate-general: read from the corpus's structure page, with curated additions."""

    code: _Text
    name: _Text
    short_name: str = ""
    remit: _Prose = ""
    aliases: _Words = ()
    keywords: _Words = ()
    shared_with: _Words = ()
    kind: Literal["directorate", "service"] = "directorate"
    # The unit's name in other languages (``{fr: ..., nl: ..., de: ...}``), as it follows an article in a sentence.
    names: dict[Language, _Name] = Field(default_factory=dict)
    # The unit's remit in other languages, where a structure page in that language gives it.
    remits: dict[Language, _Name] = Field(default_factory=dict)

    def name_in(self, language: str | None) -> str:
        """The unit's name in ``language`` (ISO 639-1); the catalogue's ``name`` when it has none there."""
        return self.names.get(language, self.name) if language else self.name  # type: ignore[call-overload]


class Theme(_Frozen):
    """A policy theme of the themes page, mapped to the units responsible for it (maybe none)."""

    name: _Text
    directorates: _Words = ()
    headings: _Words = ()
    anchors: _Words = ()
    outside_dgm: _Prose = ""  # who handles it when no unit does
    # Words that name the theme in a question; given for the themes no unit holds, whose topics no unit's
    # keywords name (a question about migration names a topic of the pages, though no directorate's).
    keywords: _Words = ()
    # ``outside_dgm`` in other languages.
    outside_dgm_translations: dict[Language, _Name] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _someone_holds_it(self) -> Theme:
        if not self.directorates and not self.outside_dgm:
            raise ValueError("a theme with no directorate must say who holds it ('outside_dgm')")
        if self.outside_dgm_translations and not self.outside_dgm:
            raise ValueError("'outside_dgm_translations' translates an empty 'outside_dgm'")
        return self

    def outside_dgm_in(self, language: str | None) -> str:
        """``outside_dgm`` in ``language`` (ISO 639-1); the English text when the catalogue has none."""
        return self.outside_dgm_translations.get(language, self.outside_dgm) if language else self.outside_dgm  # type: ignore[call-overload]


class Catalogue(_Frozen):
    """The units and the theme map, validated; the index keeps a copy (``model_dump_json``)."""

    directorates: tuple[Directorate, ...]
    themes: tuple[Theme, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.directorates)

    def codes_in(self, text: str) -> tuple[str, ...]:
        """The catalogue's codes named in ``text``, in order of first mention, without repeats."""
        return codes_in(text, self.codes)

    def profile_texts(self) -> list[str]:
        """One text per unit, in catalogue order: its name, code, remit and topics, which a question is
        compared with as a whole."""
        return [f"{d.name} ({d.code}). {d.remit}" + (f" Topics: {', '.join(d.keywords)}." if d.keywords else "")
                for d in self.directorates]

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
