"""The seeded typo set: reproducible, one slip in one content word per question, answers unchanged."""

from __future__ import annotations

import json
import random

from eval.typos import main, slips, typo


def test_slips_are_one_keyboard_slip_away_and_keep_the_first_letter():
    made = slips("policy")
    assert {"plicy", "poolicy", "poilcy", "pokicy"} <= set(made)
    assert "policy" not in made and all(s[0] == "p" for s in made)


def test_a_typo_falls_on_a_content_word_and_makes_no_common_word():
    question = "Which directorate handles sanctions at the UN?"
    out, word, wrong = typo(question, random.Random(1)) or ("", "", "")
    assert word in ("directorate", "handles", "sanctions") and wrong in slips(word)
    assert out == question.replace(word, wrong, 1)
    assert typo("Who is it for UN?", random.Random(1)) is None  # no word of five letters


def test_the_set_is_reproducible(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["--out", str(a), "--n", "10"]) == 0 and main(["--out", str(b), "--n", "10"]) == 0
    assert a.read_text() == b.read_text()
    rows = [json.loads(line) for line in a.read_text().splitlines()]
    assert len(rows) == 10
    assert all(r["id"].endswith("-typo") and r["kind"] != "out_of_scope" and "typo" in r["note"] for r in rows)
