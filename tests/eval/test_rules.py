"""The count of hand-written rules that `dgm-assistant eval` prints."""

from __future__ import annotations

from pathlib import Path

from eval.rules import count_rules
from tests.helpers import ROOT


def test_rules_are_counted_in_code_catalogue_and_lexicon(tmp_path: Path) -> None:
    (tmp_path / "assistant" / "question" / "lexicon").mkdir(parents=True)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "assistant" / "a.py").write_text('import re\nX = re.compile(r"a|b|c")\nY = "d|e"\n')
    (tmp_path / "corpus" / "directorates.yaml").write_text(
        "directorates:\n  - code: M1\n    keywords: [x, y]\n    aliases: [z]\n    remit: not counted\n")
    (tmp_path / "assistant" / "question" / "lexicon" / "en.yaml").write_text(
        "frame_words: [a, b]\nanswer_templates: {x: 'not a rule'}\n")
    (tmp_path / "ingest" / "patterns").mkdir(parents=True)
    (tmp_path / "ingest" / "patterns" / "en.yaml").write_text(
        "kinds: {directorate: [Directorate], service: [service]}\nname_format: '{short} {kind}'\n"
        "units: ['[Tt]he {kind} (?:for|of) {words}', 'the {code}']\n")
    count = count_rules(tmp_path)
    assert (count.regex_alternatives, count.catalogue_entries, count.lexicon_words) == (6, 3, 4)
    assert count.total == 13 and str(count).startswith("13 hand-written rules")


def test_the_checkout_is_counted() -> None:
    count = count_rules(ROOT)
    assert count.regex_alternatives > 0 and count.catalogue_entries > 0 and count.lexicon_words > 0
