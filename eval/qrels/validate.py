"""Check the hand-made citation labels (eval/qrels/*.jsonl) against the corpus pages and the Q&A files.

Run from the repository root:  python eval/qrels/validate.py  [--corpus corpus] [--eval eval]

Every quote must be an exact, contiguous substring of its page's raw text (no normalisation at all; the
check is repeated with whitespace runs collapsed to one space, which is what a consumer that matches
cleaned chunk text should use), must occur exactly once on the page (so its offsets are unambiguous),
and must start and end at a sentence boundary. Every id must exist in the split's Q&A file and not be
out_of_scope, and every item needs at least one grade-2 passage. Finally the labels are loaded as ranx
Qrels, with passage ids "<document>:<start>-<end>" (character offsets into the raw page text).
Prints counts per language and kind; exits 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml
from ranx import Qrels

SPLITS = {"dev": "qa_dev.jsonl", "test": "qa_test.jsonl"}
GRADES = (1, 2)
_WS = re.compile(r"\s+")
_SENTENCE_START = re.compile(r"^[A-Z\"“]")
_SENTENCE_END = (".", ":", "?", "!", ".\"", ".”")


def normalise(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space."""
    return _WS.sub(" ", text).strip()


def load_pages(corpus: Path) -> dict[str, str]:
    meta = yaml.safe_load((corpus / "documents.yaml").read_text(encoding="utf-8"))
    return {d["id"]: (corpus / "pages" / d["file"]).read_text(encoding="utf-8") for d in meta["documents"]}


def load_qa(path: Path) -> dict[str, dict]:
    items = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {item["id"]: item for item in items}


def check_split(path: Path, qa: dict[str, dict], pages: dict[str, str]) -> tuple[list[str], dict[str, dict[str, int]]]:
    problems: list[str] = []
    qrels: dict[str, dict[str, int]] = {}
    normalised = {doc: normalise(text) for doc, text in pages.items()}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{n}"
        row = json.loads(line)
        qid = row.get("id")
        if set(row) != {"id", "passages"}:
            problems.append(f"{where}: fields must be exactly id, passages (got {sorted(row)})")
        if qid not in qa:
            problems.append(f"{where}: id {qid!r} is not in the Q&A file")
            continue
        if qa[qid]["kind"] == "out_of_scope":
            problems.append(f"{where}: {qid} is out_of_scope; nothing in the corpus answers it")
        if qid in qrels:
            problems.append(f"{where}: {qid} is labelled twice")
        rel: dict[str, int] = {}
        for p in row.get("passages", []):
            doc, quote, grade = p.get("document"), p.get("quote", ""), p.get("grade")
            if doc not in pages:
                problems.append(f"{where}: unknown document {doc!r}")
                continue
            if grade not in GRADES:
                problems.append(f"{where}: grade must be 1 or 2, got {grade!r}")
            text = pages[doc]
            count = text.count(quote)
            if count != 1:
                problems.append(f"{where}: quote found {count} times in {doc} (must be exactly once): {quote[:60]!r}")
                continue
            if normalise(quote) not in normalised[doc]:
                problems.append(f"{where}: quote not found after whitespace normalisation: {quote[:60]!r}")
            if not _SENTENCE_START.match(quote) or not quote.endswith(_SENTENCE_END):
                problems.append(f"{where}: quote is not whole sentences: {quote[:60]!r}")
            start = text.index(quote)
            end = start + len(quote)
            if start > 0 and not text[start - 1].isspace():
                problems.append(f"{where}: quote starts inside a word or sentence: {quote[:60]!r}")
            pid = f"{doc}:{start}-{end}"
            if pid in rel:
                problems.append(f"{where}: passage listed twice: {quote[:60]!r}")
            rel[pid] = grade
        if 2 not in rel.values():
            problems.append(f"{where}: {qid} has no grade-2 passage")
        qrels[qid] = rel
    return problems, qrels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--eval", type=Path, default=Path("eval"))
    args = parser.parse_args(argv)
    pages = load_pages(args.corpus)
    all_problems: list[str] = []
    for split, qa_file in SPLITS.items():
        path = args.eval / "qrels" / f"{split}.jsonl"
        if not path.exists():
            print(f"{split}: no labels ({path} missing)")
            continue
        qa = load_qa(args.eval / qa_file)
        problems, qrels = check_split(path, qa, pages)
        all_problems += problems
        Qrels.from_dict(qrels)  # raises if ranx cannot read them
        langs = Counter(qa[q].get("language", "en") for q in qrels if q in qa)
        kinds = Counter(qa[q]["kind"] for q in qrels if q in qa)
        grades = Counter(g for rel in qrels.values() for g in rel.values())
        print(f"{split}: {len(qrels)} items; languages {dict(sorted(langs.items()))}; "
              f"kinds {dict(sorted(kinds.items()))}; passages grade 2: {grades[2]}, grade 1: {grades[1]}")
    for p in all_problems:
        print(p, file=sys.stderr)
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
