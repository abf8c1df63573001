"""The catalogue: the units the corpus's structure pages give, merged with the curated additions of
``directorates.yaml`` (optional), and the theme map of ``themes.yaml`` (optional).

Both YAML files are read into pydantic models; an error names the file, the entry and the field.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import CatalogueError
from .models import Catalogue, Directorate, Document, Theme, _Name, _Prose, _Text, _Words
from .readers import load_documents
from .units import MIN_UNITS, ParsedUnit, parse_units

log = logging.getLogger(__name__)

DIRECTORATES_FILE = "directorates.yaml"
THEMES_FILE = "themes.yaml"
# The language a unit's own ``name`` and ``remit`` are in when a structure page gives them in it.
BASE_LANGUAGE = "en"

M = TypeVar("M", bound=BaseModel)


class UnitAddition(BaseModel):
    """One entry of ``directorates.yaml``: what a person adds to a unit the structure page gives (aliases,
    its name in a language no page gives, a shorter name), or a whole unit that no page names."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code: _Text
    name: _Text | None = None
    short_name: _Text | None = None
    kind: Literal["directorate", "service"] | None = None
    remit: _Prose | None = None
    aliases: _Words = ()
    keywords: _Words = ()
    shared_with: _Words = ()
    names: dict[Literal["fr", "nl", "de"], _Name] = Field(default_factory=dict)


class DirectoratesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directorates: tuple[UnitAddition, ...] = ()

    @field_validator("directorates")
    @classmethod
    def _unique_codes(cls, entries: tuple[UnitAddition, ...]) -> tuple[UnitAddition, ...]:
        codes = [e.code for e in entries]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"duplicate code(s) {', '.join(map(repr, repeated))}")
        return entries


class ThemesFile(BaseModel):
    """``themes.yaml``; validated with the catalogue's codes as context (``{"codes": ...}``)."""

    model_config = ConfigDict(extra="forbid")
    themes: tuple[Theme, ...] = ()

    @field_validator("themes")
    @classmethod
    def _known_codes(cls, themes: tuple[Theme, ...], info: ValidationInfo) -> tuple[Theme, ...]:
        codes: tuple[str, ...] | None = (info.context or {}).get("codes")
        for i, t in enumerate(themes, start=1):
            bad = [c for c in t.directorates if codes is not None and c not in codes]
            if bad:
                raise ValueError(f"entry {i} ({t.name}): unknown directorate code(s) {', '.join(bad)}; "
                                 f"the corpus's units: {', '.join(codes or ())}")
        names = [t.name for t in themes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"duplicate theme(s) {', '.join(map(repr, repeated))}")
        return themes


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """'entry 3 (M3): names.nk' for the location of a validation error in a ``{key: [entries]}`` file."""
    if len(loc) >= 2 and isinstance(loc[1], int):
        entry = data[loc[0]][loc[1]] if isinstance(data, dict) else None
        label = f"entry {loc[1] + 1}"
        if isinstance(entry, dict) and (entry.get("code") or entry.get("name")):
            label += f" ({entry.get('code') or entry.get('name')})"
        rest = ".".join(str(x) for x in loc[2:] if x != "[key]")
        return f"{label}: '{rest}'" if rest else label
    return f"'{'.'.join(map(str, loc))}'" if loc else "the file"


def _read(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(data if data is not None else {}, context=context)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(data, e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise CatalogueError(f"{path}: {problems}") from None


def load_additions(path: Path) -> tuple[UnitAddition, ...]:
    """The curated additions of a ``directorates.yaml``."""
    return _read(path, DirectoratesFile).directorates


def load_themes(path: Path, codes: Sequence[str]) -> tuple[Theme, ...]:
    """The theme map of a ``themes.yaml``; a code that is not among ``codes`` is an error."""
    return _read(path, ThemesFile, {"codes": tuple(codes)}).themes


def _unit(parsed: ParsedUnit) -> dict[str, Any]:
    """A parsed unit's fields, in the base language when a structure page gives it, else the first one."""
    base = BASE_LANGUAGE if BASE_LANGUAGE in parsed.names else next(iter(parsed.names))
    remit_language = base if base in parsed.remits else next(iter(parsed.remits))
    return {"code": parsed.code, "kind": parsed.kind, "name": parsed.names[base],
            "short_name": parsed.short_names[base], "remit": parsed.remits[remit_language],
            "names": {lang: n for lang, n in parsed.names.items() if lang != base},
            "remits": {lang: r for lang, r in parsed.remits.items() if lang != remit_language}}


def merge_units(parsed: dict[str, ParsedUnit], additions: Sequence[UnitAddition],
                source: Path | str = DIRECTORATES_FILE) -> tuple[Directorate, ...]:
    """The corpus's units with the curated additions applied: a field an entry gives wins over the page's.

    Args:
        parsed: the units the structure pages give (``units.parse_units``), in page order.
        additions: the entries of ``directorates.yaml``; one for a code no page names must give the whole unit
            (at least its name and remit) and comes after the pages' units.
        source: the file the additions come from, for messages.
    """
    fields = {code: _unit(p) for code, p in parsed.items()}
    for i, entry in enumerate(additions, start=1):
        given = entry.model_dump(exclude_unset=True, exclude={"code"})
        if entry.code not in fields:
            if entry.name is None or entry.remit is None:
                pages = ", ".join(fields) or "none"
                raise CatalogueError(f"{source}: entry {i} ({entry.code}): no structure page of the corpus names "
                                     f"unit {entry.code!r} (the pages name: {pages}); fix the code, or give the "
                                     f"unit's name and remit to add it")
            fields[entry.code] = {"code": entry.code, "short_name": entry.short_name or entry.name}
        unit = fields[entry.code]
        unit.update({k: v for k, v in given.items() if k != "names"})
        unit["names"] = {**unit.get("names", {}), **entry.names}
    return tuple(Directorate.model_validate(f) for f in fields.values())


def load_catalogue(corpus_dir: Path, documents: Sequence[Document] | None = None,
                   min_units: int = MIN_UNITS) -> Catalogue:
    """The catalogue of a corpus folder: its structure pages' units, ``directorates.yaml``'s additions and
    ``themes.yaml``'s theme map (both files optional).

    Args:
        corpus_dir: the corpus folder.
        documents: its documents when already read (else they are read here).
        min_units: how many units a page must name to be a structure page.
    """
    corpus_dir = Path(corpus_dir)
    docs = load_documents(corpus_dir) if documents is None else documents
    path = corpus_dir / DIRECTORATES_FILE
    additions = load_additions(path) if path.is_file() else ()
    directorates = merge_units(parse_units(docs, min_units), additions, path)
    if not directorates:
        log.warning("%s: no structure page (a page naming at least %d units, such as 'The Directorate for X "
                    "(M1)') and no unit in %s: the catalogue is empty", corpus_dir, min_units, DIRECTORATES_FILE)
    themes_path = corpus_dir / THEMES_FILE
    themes = load_themes(themes_path, [d.code for d in directorates]) if themes_path.is_file() else ()
    return Catalogue(directorates=directorates, themes=themes)
