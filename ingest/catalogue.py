"""Load and validate ``directorates.yaml`` and ``themes.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogueError
from .models import Catalogue, Directorate, Theme

# The ten units named on the structure page; the catalogue must hold each exactly once.
KNOWN_CODES: tuple[str, ...] = ("M1", "M2", "M3", "M4", "M5", "ME6", "M7", "MD8", "M0.1", "M0.0")

# Belgium's other languages, in which a unit's name (and a theme's `outside_dgm`) may be given; English is the
# entry's own field.
TRANSLATED_LANGUAGES: tuple[str, ...] = ("fr", "nl", "de")

_DIRECTORATE_FIELDS = ("code", "name", "short_name", "kind", "remit", "aliases", "keywords", "shared_with")
_OPTIONAL_DIRECTORATE_FIELDS = ("names",)
_THEME_FIELDS = ("name", "headings", "anchors", "directorates")


def _read_yaml(path: Path, key: str) -> list[Any]:
    if not path.is_file():
        raise CatalogueError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise CatalogueError(f"{path}: expected a top-level '{key}:' list")
    return data[key]


def _str_list(path: Path, label: str, field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogueError(f"{path}: {label}: '{field}' must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _translations(path: Path, label: str, field: str, english: str, value: Any) -> tuple[tuple[str, str], ...]:
    """An optional ``{fr: ..., nl: ..., de: ...}`` mapping of a text in Belgium's other languages."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise CatalogueError(f"{path}: {label}: '{field}' must map a language to a text, like "
                             f"{{fr: ..., nl: ..., de: ...}}, got {value!r}")
    unknown = [str(k) for k in value if k not in TRANSLATED_LANGUAGES]
    if unknown:
        raise CatalogueError(f"{path}: {label}: '{field}' has unknown language(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(TRANSLATED_LANGUAGES)} (English is '{english}')")
    bad = [k for k, v in value.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise CatalogueError(f"{path}: {label}: '{field}' must give a non-empty text for {', '.join(bad)}")
    return tuple((k, " ".join(value[k].split())) for k in TRANSLATED_LANGUAGES if k in value)


def load_directorates(path: Path) -> tuple[Directorate, ...]:
    """Read the directorate catalogue; every error names the file and the entry."""
    entries = _read_yaml(path, "directorates")
    seen: set[str] = set()
    out: list[Directorate] = []
    for i, entry in enumerate(entries, start=1):
        label = f"entry {i}" + (f" ({entry.get('code')})" if isinstance(entry, dict) and entry.get("code") else "")
        if not isinstance(entry, dict):
            raise CatalogueError(f"{path}: {label}: expected a mapping, got {entry!r}")
        missing = [f for f in _DIRECTORATE_FIELDS if f not in entry]
        if missing:
            raise CatalogueError(f"{path}: {label}: missing field(s) {', '.join(missing)}")
        unknown = sorted(set(entry) - set(_DIRECTORATE_FIELDS) - set(_OPTIONAL_DIRECTORATE_FIELDS))
        if unknown:
            raise CatalogueError(f"{path}: {label}: unknown field(s) {', '.join(unknown)}")
        code = str(entry["code"]).strip()
        if code not in KNOWN_CODES:
            raise CatalogueError(f"{path}: {label}: unknown code {code!r}; known codes: {', '.join(KNOWN_CODES)}")
        if code in seen:
            raise CatalogueError(f"{path}: {label}: duplicate code {code!r}")
        seen.add(code)
        for f in ("name", "short_name", "remit", "kind"):
            if not isinstance(entry[f], str) or not entry[f].strip():
                raise CatalogueError(f"{path}: {label}: '{f}' must be a non-empty string")
        if entry["kind"] not in ("directorate", "service"):
            raise CatalogueError(f"{path}: {label}: 'kind' must be 'directorate' or 'service', got {entry['kind']!r}")
        shared = entry["shared_with"]
        out.append(
            Directorate(
                code=code,
                name=entry["name"].strip(),
                short_name=entry["short_name"].strip(),
                remit=" ".join(entry["remit"].split()),
                aliases=_str_list(path, label, "aliases", entry["aliases"]),
                keywords=_str_list(path, label, "keywords", entry["keywords"]),
                shared_with=() if shared == [] else _str_list(path, label, "shared_with", shared),
                kind=entry["kind"],
                names=_translations(path, label, "names", "name", entry.get("names")),
            )
        )
    absent = [c for c in KNOWN_CODES if c not in seen]
    if absent:
        raise CatalogueError(f"{path}: missing entries for {', '.join(absent)}")
    return tuple(out)


def load_themes(path: Path, codes: tuple[str, ...] = KNOWN_CODES) -> tuple[Theme, ...]:
    """Read the theme -> directorate map; unknown codes and duplicate names are errors."""
    entries = _read_yaml(path, "themes")
    seen: set[str] = set()
    out: list[Theme] = []
    for i, entry in enumerate(entries, start=1):
        label = f"entry {i}" + (f" ({entry.get('name')})" if isinstance(entry, dict) and entry.get("name") else "")
        if not isinstance(entry, dict):
            raise CatalogueError(f"{path}: {label}: expected a mapping, got {entry!r}")
        missing = [f for f in _THEME_FIELDS if f not in entry]
        if missing:
            raise CatalogueError(f"{path}: {label}: missing field(s) {', '.join(missing)}")
        name = str(entry["name"]).strip()
        if name in seen:
            raise CatalogueError(f"{path}: {label}: duplicate theme {name!r}")
        seen.add(name)
        dirs = tuple(entry["directorates"] or ())
        bad = [c for c in dirs if c not in codes]
        if bad:
            raise CatalogueError(f"{path}: {label}: unknown directorate code(s) {', '.join(map(str, bad))}")
        outside = str(entry.get("outside_dgm", "") or "")
        if not dirs and not outside:
            raise CatalogueError(
                f"{path}: {label}: a theme with no DGM directorate must say who holds it ('outside_dgm')")
        translations = _translations(path, label, "outside_dgm_translations", "outside_dgm",
                                     entry.get("outside_dgm_translations"))
        if translations and not outside:
            raise CatalogueError(f"{path}: {label}: 'outside_dgm_translations' translates an empty 'outside_dgm'")
        out.append(
            Theme(
                name=name,
                directorates=dirs,
                headings=_str_list(path, label, "headings", entry["headings"] or []),
                anchors=_str_list(path, label, "anchors", entry["anchors"] or []),
                outside_dgm=outside,
                keywords=_str_list(path, label, "keywords", entry.get("keywords") or []),
                outside_dgm_translations=translations,
            )
        )
    return tuple(out)


def load_catalogue(corpus_dir: Path) -> Catalogue:
    """Load ``directorates.yaml`` and (if present) ``themes.yaml`` from a corpus folder."""
    directorates = load_directorates(corpus_dir / "directorates.yaml")
    themes_path = corpus_dir / "themes.yaml"
    themes = load_themes(themes_path, tuple(d.code for d in directorates)) if themes_path.exists() else ()
    return Catalogue(directorates=directorates, themes=themes)
