"""The Q&A loader: the shipped sets validate and meet their quotas; bad lines name line and field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import QAFormatError, QAItem, load_qa
from ingest import load_catalogue
from ingest.errors import DGMError
from tests.helpers import CORPUS, ROOT

EVAL_DIR = ROOT / "eval"

GOOD = {"id": "x-1", "question": "What does M1 do?", "phrases": ["Security Policy"],
        "directorates": ["M1"], "kind": "route"}


@pytest.mark.parametrize("name", ["qa_dev.jsonl", "qa_test.jsonl"])
def test_shipped_files_load(name: str) -> None:
    items = load_qa(EVAL_DIR / name)
    assert items and all(isinstance(i, QAItem) for i in items)
    assert len({i.id for i in items}) == len(items)


def test_dev_and_test_do_not_share_questions() -> None:
    dev = {i.scored_question.casefold() for i in load_qa(EVAL_DIR / "qa_dev.jsonl")}
    test = {i.scored_question.casefold() for i in load_qa(EVAL_DIR / "qa_test.jsonl")}
    assert not dev & test


def test_test_set_meets_quotas() -> None:
    items = load_qa(EVAL_DIR / "qa_test.jsonl")
    kinds = Counter(i.kind for i in items)
    assert len(items) >= 120
    route_codes = Counter(c for i in items if i.kind == "route" for c in i.directorates)
    for code in load_catalogue(CORPUS).codes:
        assert route_codes[code] >= 6, f"only {route_codes[code]} route items for {code}"
    assert kinds["out_of_scope"] >= 15
    assert kinds["followup"] >= 15
    assert kinds["paraphrase"] >= 8
    assert {i.language for i in items} == {"en", "fr", "nl", "de"}
    assert all(i.turns is not None and len(i.turns) >= 2 for i in items if i.kind == "followup")


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _line(**changes: object) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def test_blank_lines_are_skipped_and_turns_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, [_line(), "", "   ",
                             _line(id="x-2", question=..., turns=["Tell me about NATO", "Who handles it?"],
                                   kind="followup")])
    items = load_qa(path)
    assert [i.id for i in items] == ["x-1", "x-2"]
    assert items[1].scored_question == "Who handles it?"
    assert items[0].all_turns == ["What does M1 do?"]


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ('{"id": "x-2", "question": "broken",', None, "not valid JSON"),
        (_line(id="x-2", phrases=...), "phrases", "missing"),
        (_line(id="x-2", turns=["a", "b"]), "turns", "not both"),
        (_line(id="x-2", question=...), "turns", "neither"),
        (_line(id="x-2", kind="trivia"), "kind", "'route'"),
        (_line(id="x-2", directorates=["M9"]), "directorates", "unknown directorate code"),
        (_line(id="x-1"), "id", "duplicate id 'x-1'"),
        (_line(id="x-2", phrases="Security Policy"), "phrases", "valid list"),
        (_line(id="x-2", question=42), "question", "valid string"),
        (_line(id="x-2", kind="out_of_scope", directorates=[]), "phrases", "out_of_scope"),
        (_line(id="x-2", extra="?"), "extra", "unknown field"),
        (_line(id="x-2", turns=[], question=...), "turns", "non-empty"),
    ],
    ids=["json", "missing", "both", "neither", "kind", "code", "duplicate", "type", "question-type",
         "oos-phrases", "extra", "empty-turns"],
)
def test_bad_line_names_file_line_and_field(tmp_path: Path, bad: str, field: str | None, words: str) -> None:
    path = _write(tmp_path, [_line(), "", bad, _line(id="x-9")])
    with pytest.raises(QAFormatError) as info:
        load_qa(path, codes=load_catalogue(CORPUS).codes)  # the codes of the assistant's catalogue
    message = str(info.value)
    assert message.startswith(f"{path} line 3: ")
    if field is not None:
        assert f"field '{field}'" in message
    assert words in message
    assert isinstance(info.value, DGMError)


def test_codes_are_checked_only_against_a_given_catalogue(tmp_path: Path) -> None:
    path = _write(tmp_path, [_line(id="x-1", directorates=["DG9"])])  # another directorate-general's code
    assert load_qa(path)[0].directorates == ["DG9"]
    with pytest.raises(QAFormatError, match="unknown directorate code"):
        load_qa(path, codes=("M1", "M2"))


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(QAFormatError, match="file not found"):
        load_qa(tmp_path / "nope.jsonl")
    with pytest.raises(QAFormatError, match="no Q&A items"):
        load_qa(_write(tmp_path, ["", ""]))


def test_public_surface_is_complete() -> None:
    import eval as package

    assert all(hasattr(package, name) for name in package.__all__)
    public = {n for n, v in vars(package).items()
              if not n.startswith("_") and not isinstance(v, type(package)) and n != "annotations"}
    assert public <= set(package.__all__)
