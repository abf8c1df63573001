"""The catalogue: all ten units with their keywords and themes; errors name the file and the entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest import Catalogue, CatalogueError, load_catalogue, load_directorates
from tests.helpers import CORPUS


def _catalogue_with(tmp_path: Path, transform) -> Path:
    text = (CORPUS / "directorates.yaml").read_text(encoding="utf-8")
    path = tmp_path / "directorates.yaml"
    path.write_text(transform(text), encoding="utf-8")
    return path


def test_catalogue_loads_all_ten_units():
    cat = load_catalogue(CORPUS)
    assert cat.codes == ("M1", "M2", "M3", "M4", "M5", "ME6", "M7", "MD8", "M0.1", "M0.0")
    assert cat.get("ME6").shared_with == ("DGE",)
    assert cat.get("MD8").shared_with == ("DGD",)
    assert "NATO" in cat.get("M1").keywords and "cyber" in cat.get("M4").keywords
    assert "death penalty" in cat.get("M3").keywords and "radicalisation" in cat.get("M7").keywords
    # The themes no unit holds carry the words that name them, and keep them through the index's copy.
    migration = cat.theme("Asylum and migration")
    assert migration is not None and not migration.directorates and "human trafficking" in migration.keywords
    assert Catalogue.from_dict(cat.to_dict()) == cat


def test_catalogue_errors_name_file_and_entry(tmp_path):
    p = _catalogue_with(tmp_path, lambda t: t.replace("    short_name: Human Rights\n", "", 1))
    with pytest.raises(CatalogueError, match=r"directorates.yaml: entry 3 \(M3\): missing field\(s\) short_name"):
        load_directorates(p)
    p = _catalogue_with(tmp_path, lambda t: t.replace("- code: M5", "- code: M4", 1))
    with pytest.raises(CatalogueError, match=r"entry 5 \(M4\): duplicate code 'M4'"):
        load_directorates(p)
    p = _catalogue_with(tmp_path, lambda t: t.replace("- code: M5", "- code: M9", 1))
    with pytest.raises(CatalogueError, match=r"unknown code 'M9'"):
        load_directorates(p)
    p = _catalogue_with(tmp_path, lambda t: t + "\n  - [broken\n")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_directorates(p)


def test_theme_map_with_unknown_code_is_an_error(tmp_path):
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    themes = dst / "themes.yaml"
    themes.write_text(themes.read_text(encoding="utf-8").replace("directorates: [M5]", "directorates: [M55]"),
                      encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"themes.yaml: entry \d+ \(Disarmament and non-proliferation\): "
                                             r"unknown directorate code\(s\) M55"):
        load_catalogue(dst)
