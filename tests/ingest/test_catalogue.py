"""The catalogue: units read from the structure page, curated additions merged, errors naming file, entry and
field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from eval.corpora import GROWTH_DIR, compose_corpus
from ingest import Catalogue, CatalogueError, load_additions, load_catalogue, load_documents
from ingest.units import mentions, parse_units
from tests.helpers import CORPUS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BEFORE = {d["code"]: d for d in yaml.safe_load((FIXTURES / "units_before.yaml").read_text())["directorates"]}


def _corpus(tmp_path: Path, *, without: tuple[str, ...] = (), edit: tuple[str, str, str] | None = None) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    for name in without:
        (dst / name).unlink()
    if edit is not None:
        name, old, new = edit
        text = (dst / name).read_text(encoding="utf-8")
        assert old in text
        (dst / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return dst


def _words(text: str) -> set[str]:
    return {w[:6] for w in re.findall(r"[a-z]{4,}", text.lower())}


def test_the_structure_page_alone_gives_the_units_names_and_remits_of_the_hand_written_catalogue(tmp_path):
    cat = load_catalogue(_corpus(tmp_path, without=("directorates.yaml", "themes.yaml")))
    assert cat.codes == tuple(BEFORE)  # the page's order
    for d in cat.directorates:
        before = BEFORE[d.code]
        assert d.kind == before["kind"], d.code
        if d.code != "M0.0":  # the page names M0.0 by its code and task only
            assert d.name == before["name"], d.code
        assert d.remit.startswith(("The ", "the ")) and f"({d.code})" in d.remit or d.code in d.remit
    assert cat.get("M0.0").name == "Management and quality control service"
    # Each remit is the page's own paragraph about the unit: it holds most words of the hand-written summary,
    # and more of them than any other unit's paragraph does.
    for code, before in BEFORE.items():
        summary = _words(before["remit"])
        share = {d.code: len(summary & _words(d.remit)) / len(summary) for d in cat.directorates}
        assert share[code] >= 0.4, (code, share[code])
        assert max(share, key=share.__getitem__) == code, (code, share)
    assert "the rule of law, including tackling corruption" in cat.get("M4").remit  # the list stays in the remit
    assert "- " not in cat.get("M4").remit


def test_with_the_curated_additions_the_catalogue_is_the_hand_written_one():
    cat = load_catalogue(CORPUS)
    assert cat.codes == tuple(BEFORE)
    for d in cat.directorates:
        before = BEFORE[d.code]
        got = {"name": d.name, "short_name": d.short_name, "kind": d.kind, "aliases": list(d.aliases),
               "shared_with": list(d.shared_with), "names": d.names}
        assert got == {k: before[k] for k in got}, d.code
    assert cat.get("ME6").shared_with == ("DGE",) and cat.get("MD8").shared_with == ("DGD",)
    migration = cat.theme("Asylum and migration")
    assert migration is not None and not migration.directorates and "human trafficking" in migration.keywords
    assert Catalogue.model_validate_json(cat.model_dump_json()) == cat  # the index's copy


@pytest.fixture(scope="module")
def growth_docs(tmp_path_factory):
    """The growth fixture's pages alone (eval/growth/: fictional, with the DGC's structure page)."""
    corpus = tmp_path_factory.mktemp("growth") / "corpus"
    (corpus / "pages").mkdir(parents=True)
    return [d for d in load_documents(compose_corpus(CORPUS, GROWTH_DIR, corpus)) if d.id not in
            {"dgm-structure", "fps-policy-themes"}]


def test_a_policy_page_naming_one_unit_is_no_structure_page(growth_docs):
    att = next(d for d in growth_docs if d.id == "arms-trade-treaty-en")
    assert [m.code for m in mentions(att)] == ["M5"]
    assert parse_units([att]) == {}
    assert list(parse_units([att], min_units=1)) == ["M5"]


def test_french_dutch_and_german_pages_give_names_of_the_units_a_structure_page_gives(growth_docs):
    units = parse_units(growth_docs)
    assert list(units) == ["C1", "C2", "C3", "C3.1", "C3.2", "C4", "C5", "C6", "C0.1", "C0.0"]
    c5 = units["C5"]
    assert c5.names == {"en": "Directorate for Legalisation", "fr": "Direction Légalisation"}
    assert c5.remits["fr"].startswith("La Direction Légalisation (C5) légalise les documents publics belges")
    assert units["C3.1"].kind == "service" and units["C3"].kind == "directorate"
    # C3's paragraph lists its two services: C3 keeps the list, each service its own line.
    assert "Passports service (C3.1) issues" in units["C3"].remits["en"]
    assert units["C3.1"].remits["en"].startswith("the Passports service (C3.1) issues")
    assert "C3.2" not in units["C3.1"].remits["en"]
    # Policy and consular pages in Dutch and German lend the names they give.
    assert units["C2"].names["nl"] == "Directie Crisisbeheer"
    assert units["C3.2"].names["de"] == "Dienst Konsularische Registrierung"
    assert units["C0.0"].names["en"] == "Management and quality control service"
    # A unit no structure page gives is not made by a page naming it (M3 and M5 are on the seed page only).
    assert "M3" not in units and "M5" not in units


def test_the_curated_file_is_optional_and_a_unit_it_gives_whole_is_added(tmp_path):
    corpus = _corpus(tmp_path, without=("directorates.yaml",))
    assert load_catalogue(corpus).codes == tuple(BEFORE)
    (corpus / "directorates.yaml").write_text(
        "directorates:\n  - code: M9\n    name: Directorate for Tests\n    remit: Tests the parser.\n"
        "    aliases: [Test Directorate]\n  - code: M1\n    aliases: [Security]\n", encoding="utf-8")
    cat = load_catalogue(corpus)
    assert cat.codes == (*BEFORE, "M9")
    assert cat.get("M9").short_name == "Directorate for Tests" and cat.get("M9").kind == "directorate"
    assert cat.get("M1").aliases == ("Security",) and cat.get("M1").name == "Directorate for Security Policy"


@pytest.mark.parametrize("old, new, message", [
    ("- code: M5", "- code: M4", r"directorates.yaml: 'directorates': duplicate code\(s\) 'M4'"),
    ("- code: M5", "- code: M9", r"directorates.yaml: entry 5 \(M9\): no structure page of the corpus names unit "
                                 r"'M9' \(the pages name: M1, M2, .*M0.0\); fix the code, or give the unit's name"),
    ('nl: "Directie Mensenrechten"', 'nk: "Directie Mensenrechten"',
     r"directorates.yaml: entry 3 \(M3\): 'names.nk': Input should be 'fr', 'nl' or 'de'"),
    ('de: "Direktion Menschenrechte"}', 'de: ""}', r"entry 3 \(M3\): 'names.de': .* at least 1"),
    ("  - code: M4\n", "  - code: M4\n    remark: x\n", r"entry 4 \(M4\): 'remark': Extra inputs are not permitted"),
    ("    aliases: [Human Rights,", "    aliases: Human Rights\n    x: [", r"entry 3 \(M3\): 'aliases': "),
    ("  - code: M7\n", "  - code: M7\n    kind: unit\n", r"entry 7 \(M7\): 'kind': Input should be 'directorate'"),
])
def test_a_bad_curated_entry_is_an_error_naming_file_entry_and_field(tmp_path, old, new, message):
    corpus = _corpus(tmp_path, edit=("directorates.yaml", old, new))
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(corpus)


def test_broken_yaml_and_bad_themes_name_the_file(tmp_path):
    p = tmp_path / "directorates.yaml"
    p.write_text("directorates:\n  - [broken\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="directorates.yaml: not valid YAML"):
        load_additions(p)
    corpus = _corpus(tmp_path, edit=("themes.yaml", "directorates: [M5]", "directorates: [M55]"))
    with pytest.raises(CatalogueError, match=r"themes.yaml: 'themes': entry \d+ \(Disarmament and non-proliferation\)"
                                             r": unknown directorate code\(s\) M55; the corpus's units: M1, "):
        load_catalogue(corpus)
    shutil.rmtree(corpus)
    corpus = _corpus(tmp_path, edit=("themes.yaml", 'outside_dgm: "general FPS navigation text"', ""))
    with pytest.raises(CatalogueError, match=r"themes.yaml: entry 1 \(Introduction\): a theme with no directorate "
                                             r"must say who holds it"):
        load_catalogue(corpus)
