"""Count the hand-written rules the assistant's decisions rest on, wherever they live.

A rule here is one regex alternative in a raw-string pattern of the stages' code (ingest/, index/,
assistant/) or in a unit pattern of the structure-page parser (``ingest/patterns/*.yaml``), one keyword,
alias or anchor entry of the corpus data (``corpus/*.yaml``), or one word of the question lexicon's word lists
(``assistant/question/lexicon/*.yaml``) and of the parser's unit words; text templates are not rules. The
project's aim is to have decisions come from the corpus and fitted models: `dgm-assistant eval` prints the
count so that it is watched.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import yaml

STAGES = ("ingest", "index", "assistant")
CATALOGUE_KEYS = ("keywords", "aliases", "anchors")
_RAW = re.compile(r"^[bBfF]*[rR]")


@dataclass(frozen=True)
class RuleCount:
    regex_alternatives: int
    catalogue_entries: int
    lexicon_words: int

    @property
    def total(self) -> int:
        return self.regex_alternatives + self.catalogue_entries + self.lexicon_words

    def __str__(self) -> str:
        return (f"{self.total} hand-written rules: {self.regex_alternatives} regex alternatives in code, "
                f"{self.catalogue_entries} catalogue keywords/aliases/anchors, {self.lexicon_words} lexicon words")


def _alternatives(source: str) -> int:
    count = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and _RAW.match(tok.string):
                count += tok.string.count("|") + 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return count


def _entries(data: object, keys: tuple[str, ...] | None) -> int:
    """List entries under ``keys`` (every list when None), anywhere in a YAML document."""
    if isinstance(data, dict):
        return sum((len(v) if isinstance(v, list) and (keys is None or k in keys) else _entries(v, keys))
                   for k, v in data.items())
    if isinstance(data, list):
        return sum(_entries(v, keys) for v in data)
    return 0


def count_rules(root: Path = Path(".")) -> RuleCount:
    """The rules under ``root`` (a checkout: its ingest/, index/, assistant/ and corpus/ folders)."""
    root = Path(root)
    alts = sum(_alternatives(p.read_text(encoding="utf-8")) for stage in STAGES
               for p in sorted((root / stage).rglob("*.py")))
    catalogue = sum(_entries(yaml.safe_load(p.read_text(encoding="utf-8")), CATALOGUE_KEYS)
                    for p in sorted((root / "corpus").glob("*.yaml")))
    lexicon = 0
    for p in sorted((root / "ingest" / "patterns").glob("*.yaml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        alts += sum(str(u).count("|") + 1 for u in data.get("units", []))
        lexicon += _entries(data.get("kinds", {}), None)
    for p in sorted((root / "assistant" / "question" / "lexicon").glob("*.yaml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        lexicon += _entries({k: v for k, v in data.items() if not k.endswith(("templates", "texts"))}, None)
    return RuleCount(alts, catalogue, lexicon)


if __name__ == "__main__":  # pragma: no cover
    print(count_rules())
