"""The catalogue's names in Belgium's other languages: read, kept through the index's copy, validated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest import Catalogue, CatalogueError, load_catalogue

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    path = dst / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return dst


def test_every_unit_has_its_name_in_french_dutch_and_german():
    cat = load_catalogue(CORPUS)
    for d in cat.directorates:
        assert list(d.names) == ["fr", "nl", "de"], d.code
    m1 = cat.get("M1")
    assert m1.name_in("fr") == "direction Politique de Sécurité"
    assert m1.name_in("nl") == "Directie Veiligheidsbeleid"
    assert m1.name_in("de") == "Direktion Sicherheitspolitik"
    # English, and a language the catalogue does not give, fall back to the English name.
    assert m1.name_in("en") == m1.name_in("it") == m1.name_in(None) == "Directorate for Security Policy"
    assert cat.get("M2").name_in("de") == "Direktion Vereinte Nationen und OIF"
    assert cat.get("M3").name_in("nl") == "Directie Mensenrechten"
    energy = cat.theme("Energy")
    assert energy is not None and energy.outside_dgm_in("en") == energy.outside_dgm
    assert energy.outside_dgm_in("de") == "auf der Strukturseite keiner Direktion der DGM zugeordnet"
    assert Catalogue.model_validate_json(cat.model_dump_json()) == cat  # the index's copy keeps them


def test_an_index_catalogue_from_before_the_names_still_loads():
    data = load_catalogue(CORPUS).model_dump()
    for d in data["directorates"]:
        del d["names"], d["remits"]
    for t in data["themes"]:
        del t["outside_dgm_translations"]
    old = Catalogue.model_validate(data)
    assert old.get("M1").names == {} and old.get("M1").name_in("fr") == "Directorate for Security Policy"


def test_a_bad_translation_of_outside_dgm_names_the_theme(tmp_path):
    corpus = _copy(tmp_path, "themes.yaml", 'outside_dgm_translations: {fr: "texte de navigation',
                   'outside_dgm_translations: {lu: "texte de navigation')
    with pytest.raises(CatalogueError, match=r"themes.yaml: entry 1 \(Introduction\): 'outside_dgm_translations.lu'"
                                             r": Input should be 'en', 'fr', 'nl' or 'de'"):
        load_catalogue(corpus)
