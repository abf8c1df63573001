"""The question's words: the per-language lexicon (``lexicon/{en,fr,nl,de}.yaml``) and what it gives.

Besides word lists, a lexicon holds phrases in a small notation (`phrase_regex`), the sentences the assistant
writes in that language (templates with ``{placeholders}``, filled by `fill`) and the article a unit's name
takes in a sentence (`unit_phrase`).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ingest.models import Directorate

LEXICON_DIR = Path(__file__).with_name("lexicon")
LANGUAGES = ("en", "fr", "nl", "de")

_WORD = re.compile(r"[\w'+.-]+", re.UNICODE)  # keeps codes such as M0.1 whole


def lexicon_path(language: str) -> Path:
    return LEXICON_DIR / f"{language}.yaml"


@functools.cache
def _lexicon_data(language: str) -> dict[str, Any]:
    path = lexicon_path(language)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ValueError(f"no lexicon for language {language!r}; known: {', '.join(LANGUAGES)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of lists and sections")
    return data


@functools.cache
def lexicon(language: str) -> dict[str, frozenset[str]]:
    """One language's word lists, read once: ``frame_words`` and ``function_words``."""
    data = _lexicon_data(language)
    return {key: frozenset(str(w) for w in data.get(key, ()))
            for key in ("frame_words", "function_words")}


def lexicon_section(language: str, key: str) -> dict[str, Any]:
    """One section of a language's lexicon as written (``followup``, ``answer``): its reader validates it."""
    section = _lexicon_data(language).get(key)
    if not isinstance(section, dict):
        raise ValueError(f"{lexicon_path(language)}: expected a '{key}:' section")
    return section


# -- phrases ------------------------------------------------------------------------------------------------
_PIECE = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|\{(\w+)\}|(\S+)")


def _words(phrase: str) -> str:
    return r"\s+".join(re.escape(w) for w in phrase.split())


def phrase_regex(phrase: str, lists: Mapping[str, Sequence[str]] | None = None, *, open_end: bool = False) -> str:
    """The regular expression of a lexicon phrase, without anchors or word boundaries (the caller's).

    The notation, so that a list of phrases reads as text: words match as written, a space matches any run of
    whitespace, ``(a|b c)`` matches one of its alternatives, ``[a|b c]`` one of them or nothing, ``{key}`` one of
    the phrases of the list ``key`` of ``lists``. No nesting.

    Args:
        phrase: e.g. ``"[and] (what|how) about"``.
        lists: the lexicon's other lists, for ``{key}``.
        open_end: the phrase is followed by more words (an opener before a subject): it then ends with the
            whitespace after it, and may end with an optional group.
    """
    pieces: list[tuple[str, bool]] = []
    for m in _PIECE.finditer(phrase):
        group, optional, key, word = m.groups()
        if key is not None:
            if lists is None or key not in lists:
                raise ValueError(f"phrase {phrase!r}: no list {key!r} to refer to")
            pieces.append(("(?:" + "|".join(phrase_regex(p) for p in lists[key]) + ")", False))
        elif word is not None:
            if any(ch in word for ch in "()[]{}|"):
                raise ValueError(f"phrase {phrase!r}: unbalanced or nested group at {word!r}")
            pieces.append((re.escape(word), False))
        else:
            alts = [a.strip() for a in (group if group is not None else optional).split("|")]
            if not all(alts):
                raise ValueError(f"phrase {phrase!r}: an empty alternative in a group")
            body = _words(alts[0]) if len(alts) == 1 and optional is not None else \
                "(?:" + "|".join(_words(a) for a in alts) + ")"
            pieces.append((body, optional is not None))
    if not pieces:
        raise ValueError("an empty phrase")
    if not open_end and pieces[-1][1]:
        raise ValueError(f"phrase {phrase!r}: an optional group cannot end a phrase")
    out = []
    for i, (rx, optional) in enumerate(pieces):
        last = i == len(pieces) - 1
        if optional:
            out.append(rf"(?:{rx}\s+)?")
        else:
            out.append(rx + (r"\s+" if open_end or not last else ""))
    return "".join(out)


def phrases_regex(phrases: Sequence[str], lists: Mapping[str, Sequence[str]] | None = None, *,
                  open_end: bool = False) -> str:
    """One alternation of `phrase_regex`, in the list's order (the first that matches wins)."""
    return "(?:" + "|".join(phrase_regex(p, lists, open_end=open_end) for p in phrases) + ")"


# -- sentences ----------------------------------------------------------------------------------------------
Joins = tuple[tuple[str, str, str], ...]


@functools.cache
def joins(language: str) -> Joins:
    """What a word before a placeholder and the first word of its value become together, as (word, first word,
    joined): French "de" + "le climat" -> "du climat"; German "für" + "der Klimaschutz" -> "für den ..."."""
    rows = _lexicon_data(language).get("joins") or []
    if not all(isinstance(r, list) and len(r) == 3 and all(isinstance(x, str) and x for x in r) for r in rows):
        raise ValueError(f"{lexicon_path(language)}: 'joins' must be a list of [word, first word, joined]")
    return tuple((a, b, c) for a, b, c in rows)


def _join(left: str, value: str, rules: Joins) -> tuple[str, str]:
    for word, first, joined in rules:
        before = re.search(rf"(?:^|(?<=\s)){re.escape(word)}\s+$", left, re.IGNORECASE)
        after = re.match(rf"{re.escape(first)}(?=\s)", value, re.IGNORECASE)
        if before and after:
            return left[:before.start()], joined + value[after.end():]
    return left, value


def fill(template: str, rules: Joins = (), **values: str) -> str:
    """``template`` with its ``{placeholders}`` replaced by ``values`` (inserted as they are, never parsed), the
    language's ``joins`` applied where a value meets the word before it."""
    out = ""
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out += literal
        if name is not None:
            out, value = _join(out, values[name], rules)
            out += value
    return out


@functools.cache
def _articles(language: str) -> dict[str, str]:
    data = _lexicon_data(language).get("unit_articles")
    if not isinstance(data, dict) or set(data) != {"directorate", "service"}:
        raise ValueError(f"{lexicon_path(language)}: 'unit_articles' must give the article of a 'directorate' "
                         "and of a 'service'")
    return {k: str(v) for k, v in data.items()}


def unit_phrase(directorate: Directorate, language: str | None) -> str:
    """How a sentence in ``language`` names a unit: its article, its name in that language and its code
    ("the Directorate for Security Policy (M1)", "la direction Politique de Sécurité (M1)"). English when
    ``language`` has no lexicon."""
    lang = language if language in LANGUAGES else "en"
    article = _articles(lang)[directorate.kind]
    return f"{article} {directorate.name_in(lang)} ({directorate.code})"


@functools.cache
def frame_words() -> frozenset[str]:
    """Words that frame a question without saying what it is about, in every language (a question's frame
    and its topic may mix languages, and the keyword query must lose the frame whatever the language)."""
    return frozenset().union(*(lexicon(lang)["frame_words"] for lang in LANGUAGES))


@functools.cache
def _foreign_words() -> frozenset[str]:
    return frozenset().union(*(lexicon(lang)["function_words"] for lang in LANGUAGES if lang != "en"))


def content_words(text: str) -> list[str]:
    """The words of a text that are not question frame words, end dots stripped."""
    frame = frame_words()
    words = (w.strip(".") for w in _WORD.findall(text))
    return [w for w in words if w and w.lower() not in frame]


def focus_query(query: str) -> str:
    """The topical words of a query: the question's frame words removed (the original if nothing is left)."""
    words = content_words(query)
    return " ".join(words) if words else query


def is_foreign(question: str) -> bool:
    """Whether two or more function words of French, Dutch or German mark the question as written in one."""
    words = re.findall(r"[\wäöüéèàç']+", question.lower())
    foreign = _foreign_words()
    return sum(w in foreign for w in words) >= 2
