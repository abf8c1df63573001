"""Read a directorate-general's units (code, name, remit) from the corpus's structure page(s).

A sentence such as "The Directorate for Security Policy (M1) provides ..." (or "La Direction Visas (C6) ...")
names a unit; the patterns that find such sentences are per-language data (``ingest/patterns/<lang>.yaml``).
A page whose sentences name at least ``min_units`` units is a structure page: it gives the units, their names
and their remits (the page's own words from the sentence on). Any other page only lends a name in its language
to a unit a structure page gave.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from .clean import _BULLET, split_blocks
from .models import Document

PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"
SLOTS_FILE = PATTERNS_DIR / "slots.yaml"

# A page is a structure page when its sentences name at least this many units.
MIN_UNITS = 3

Kind = Literal["directorate", "service"]


class _Slots(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str
    words: str


class LanguagePatterns(BaseModel):
    """One language's way of naming a unit on a structure page (``ingest/patterns/<lang>.yaml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kinds: dict[Kind, tuple[str, ...]]
    name_format: str
    units: tuple[str, ...]

    def compiled(self, slots: _Slots) -> tuple[re.Pattern[str], ...]:
        # A unit word's first letter in either case: "La Direction Visas (C6)", "le service C0.0".
        kind = "(?P<kind>" + "|".join(f"[{w[0].upper()}{w[0].lower()}]{re.escape(w[1:])}"
                                      for ws in self.kinds.values() for w in ws) + ")"
        fill = {"{code}": f"(?P<code>{slots.code})", "{kind}": kind, "{words}": slots.words}
        return tuple(re.compile(functools.reduce(lambda p, kv: p.replace(*kv), fill.items(), u)) for u in self.units)

    def kind_of(self, word: str) -> Kind:
        return next(k for k, ws in self.kinds.items() if word.lower() in {w.lower() for w in ws})


@functools.cache
def _slots() -> _Slots:
    return _Slots.model_validate(yaml.safe_load(SLOTS_FILE.read_text(encoding="utf-8")))


@functools.cache
def language_patterns(language: str) -> tuple[LanguagePatterns, tuple[re.Pattern[str], ...]] | None:
    """The unit patterns of ``language``, or None when the project has none for it."""
    path = PATTERNS_DIR / f"{language}.yaml"
    if not path.is_file():
        return None
    spec = LanguagePatterns.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return spec, spec.compiled(_slots())


@dataclass(frozen=True)
class Mention:
    """One sentence of a page that names a unit: its code, name and kind, and the text from there on."""

    code: str
    name: str
    short_name: str
    kind: Kind
    language: str
    remit: str


def _one_line(text: str) -> str:
    """A block's lines as one line of prose, bullet marks dropped."""
    return " ".join(" ".join(_BULLET.sub("", line) for line in text.splitlines()).split())


def mentions(doc: Document) -> list[Mention]:
    """The units a page names, in page order (a code once per paragraph).

    The first unit named in a paragraph takes the paragraph from its sentence on as its remit (a directorate
    with its services in a list keeps their tasks); a unit named further down takes its own line.
    """
    found = language_patterns(doc.meta.language)
    if found is None:
        return []
    spec, patterns = found
    out: list[Mention] = []
    for block in split_blocks(doc.text):
        text = block.text
        matches: dict[int, re.Match[str]] = {}
        for pattern in patterns:  # at one position the earlier pattern wins
            for m in pattern.finditer(text):
                matches.setdefault(m.start(), m)
        kept: list[re.Match[str]] = []
        for start in sorted(matches):
            m = matches[start]
            if (not kept or start >= kept[-1].end()) and m["code"] not in {k["code"] for k in kept}:
                kept.append(m)
        for i, m in enumerate(kept):
            end = len(text)
            if i > 0:  # its own line, up to the next unit named on it
                line_end = text.find("\n", m.start())
                end = min(line_end if line_end >= 0 else end, kept[i + 1].start() if i + 1 < len(kept) else end)
            short = " ".join(m["short"].split())
            if m.groupdict().get("name"):
                name = m["name"]
            else:  # the sentence names the unit by its code and its task: "the M0.0 service is responsible for ..."
                short = short[:1].upper() + short[1:]
                name = spec.name_format.format(short=short, kind=m["kind"])
            out.append(Mention(code=m["code"], name=" ".join(name.split()), short_name=short,
                               kind=spec.kind_of(m["kind"]), language=doc.meta.language,
                               remit=_one_line(text[m.start():end])))
    return out


@dataclass
class ParsedUnit:
    """What the corpus says about one unit: its kind, and its name, short name and remit per language."""

    code: str
    kind: Kind
    names: dict[str, str] = field(default_factory=dict)
    short_names: dict[str, str] = field(default_factory=dict)
    remits: dict[str, str] = field(default_factory=dict)


def parse_units(docs: Iterable[Document], min_units: int = MIN_UNITS) -> dict[str, ParsedUnit]:
    """The units the corpus's structure pages give, by code in page order; names from the other pages.

    Args:
        docs: the corpus's documents, in corpus order (the first structure page to give a unit's name or remit
            in a language wins).
        min_units: how many units a page must name to be a structure page.
    """
    pages = [(doc, mentions(doc)) for doc in docs]
    units: dict[str, ParsedUnit] = {}
    for _, found in pages:
        if len({m.code for m in found}) < min_units:
            continue
        for m in found:
            unit = units.setdefault(m.code, ParsedUnit(code=m.code, kind=m.kind))
            unit.names.setdefault(m.language, m.name)
            unit.short_names.setdefault(m.language, m.short_name)
            unit.remits.setdefault(m.language, m.remit)
    for _, found in pages:  # another page may give a known unit's name in its language
        for m in found:
            if m.code in units:
                units[m.code].names.setdefault(m.language, m.name)
                units[m.code].short_names.setdefault(m.language, m.short_name)
    return units
