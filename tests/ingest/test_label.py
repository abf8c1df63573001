"""Labels: paragraphs naming a code, and the theme map on policy passages."""

from __future__ import annotations

from ingest import load_catalogue
from ingest.label import codes_in
from tests.helpers import CORPUS

CODES = load_catalogue(CORPUS).codes


def test_paragraphs_naming_a_code_are_labelled(chunks):
    by_code = {codes_in(c.text, CODES)[0]: c for c in chunks
               if c.doc_id == "dgm-structure" and codes_in(c.text, CODES)}
    assert set(by_code) == {"M1", "M2", "M3", "M4", "M5", "ME6", "M7", "MD8", "M0.1", "M0.0"}
    for code, c in by_code.items():
        assert code in c.directorates


def test_theme_map_labels_policy_passages(chunks):
    def find(text):
        return next(c for c in chunks if text in c.text)

    assert find("Paris Declaration on Aid Effectiveness").directorates == ()
    assert "Aid effectiveness" in find("Paris Declaration on Aid Effectiveness").themes
    assert find("Aerospace is above all").directorates == ("M4",)  # anchor beats the section heading
    assert "M7" in find("Terrorism is a global phenomenon").directorates
    assert "M2" in find("sanctions in the UN Security Council").directorates
    assert find("abolition of the death penalty").directorates == ("M3",)
