"""A typo'd copy of dev questions, made by a seeded script so that it can be made again: one realistic typo
in one content word of each of a sample of in-scope English dev questions.

    python -m eval.typos [--qa eval/qa_dev.jsonl] [--out eval/qa_dev_typos.jsonl] [--n 60] [--seed 18]

A typo is one of the slips people make on a keyboard: a letter left out, two neighbouring letters swapped, a
letter doubled or a letter replaced by its neighbour on a QWERTY row. It falls on a word of at least
``MIN_LETTERS`` letters that is not an acronym or a code, and never makes another common English word
(wordfreq), which no speller that reads words one by one can tell from a typo. Expected phrases and units
are the original item's: a typo changes nothing about the answer.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from assistant.question import content_words

from .dataset import load_qa

MIN_LETTERS = 5  # shorter words are mostly frame words; slips in them are another matter
COMMON_ZIPF = 3.0  # a slip that makes a word this common in English is a real-word error: not made
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {c: row[max(i - 1, 0):i] + row[i + 1:i + 2] for row in _ROWS for i, c in enumerate(row)}
_WORD = re.compile(r"[^\W\d_]+")


def slips(word: str) -> list[str]:
    """Every one-slip misspelling of ``word``, the first letter kept (people rarely miss it)."""
    out = []
    for i in range(1, len(word)):
        out.append(word[:i] + word[i + 1:])  # a letter left out
        out.append(word[:i] + word[i] + word[i:])  # a letter doubled
        if i + 1 < len(word) and word[i] != word[i + 1]:
            out.append(word[:i] + word[i + 1] + word[i] + word[i + 2:])  # neighbours swapped
        out.extend(word[:i] + n + word[i + 1:] for n in _NEIGHBOURS.get(word[i].lower(), ""))  # next key
    return list(dict.fromkeys(w for w in out if w != word))


def typo(question: str, rng: random.Random) -> tuple[str, str, str] | None:
    """``question`` with one slip in one of its content words, as (question, word, misspelling); None when it
    has no word to misspell."""
    from wordfreq import zipf_frequency

    words = [w for w in content_words(question) if _WORD.fullmatch(w) and len(w) >= MIN_LETTERS
             and not any(c.isupper() for c in w[1:])]
    rng.shuffle(words)
    for word in words:
        made = [s for s in slips(word) if zipf_frequency(s, "en") < COMMON_ZIPF]
        if made:
            wrong = rng.choice(made)
            return re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", wrong, question, count=1), word, wrong
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, default=Path("eval/qa_dev.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("eval/qa_dev_typos.jsonl"))
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    if "test" in args.qa.name:
        parser.error("never from a test split")
    rng = random.Random(args.seed)
    items = [i for i in load_qa(args.qa) if i.kind != "out_of_scope" and i.language == "en" and i.question]
    rng.shuffle(items)
    rows = []
    for item in items:
        made = typo(item.question or "", rng)
        if made is None:
            continue
        question, word, wrong = made
        rows.append(item.model_copy(update={"id": f"{item.id}-typo", "question": question,
                                            "note": f"typo (eval/typos.py, seed {args.seed}): {word} -> {wrong}"}))
        if len(rows) == args.n:
            break
    args.out.write_text("".join(json.dumps(r.model_dump(exclude_defaults=True), ensure_ascii=False) + "\n"
                                for r in rows), encoding="utf-8")
    print(f"{len(rows)} typo'd questions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
