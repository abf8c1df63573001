"""The Q&A set: one JSON object per line, validated into `QAItem`s with errors that name line and field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, ValidationInfo, field_validator

from ingest.errors import DGMError

Kind = Literal["route", "theme", "paraphrase", "followup", "out_of_scope"]
KINDS: tuple[str, ...] = get_args(Kind)
Language = Literal["en", "fr", "nl", "de"]
LANGUAGES: tuple[str, ...] = get_args(Language)


class QAFormatError(DGMError):
    """A Q&A file that cannot be read; the message names the file, the line and the field."""


class QAItem(BaseModel):
    """One evaluation question: a single question or a conversation whose last turn is scored.

    Fields are declared in validation order: `kind` comes before `phrases` so the phrase check can
    see it, `question` before `turns` so "exactly one of them" is reported on `turns`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr
    kind: Kind
    question: StrictStr | None = None
    turns: list[StrictStr] | None = Field(default=None, validate_default=True)
    phrases: list[StrictStr]
    directorates: list[StrictStr]
    language: Language = "en"  # the question's language; expected phrases are quoted from the page as it is
    note: StrictStr | None = None
    pages: list[StrictStr] = []  # ids of the pages that answer it (informative; scoring reads the phrases)

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must be a non-empty string")
        return v

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be a non-empty string")
        return v

    @field_validator("turns")
    @classmethod
    def _exactly_one_of_question_turns(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        has_question = info.data.get("question") is not None
        if v is None and not has_question and "question" in info.data:
            raise ValueError("give exactly one of 'question' or 'turns'; neither is present")
        if v is not None:
            if has_question:
                raise ValueError("give exactly one of 'question' or 'turns', not both")
            if not v:
                raise ValueError("must be a non-empty list of strings (the last turn is scored)")
            if any(not t.strip() for t in v):
                raise ValueError("every turn must be a non-empty string")
        return v

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("every phrase must be a non-empty string")
        if info.data.get("kind") == "out_of_scope" and v:
            raise ValueError("must be [] for an out_of_scope item (nothing in the corpus answers it)")
        return v

    @field_validator("directorates")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        if any(not c.strip() for c in v):
            raise ValueError("every directorate code must be a non-empty string")
        if len(set(v)) != len(v):
            raise ValueError(f"lists a code twice: {v}")
        return v

    @property
    def all_turns(self) -> list[str]:
        """The user turns in order; a single question is a one-turn conversation."""
        return list(self.turns) if self.turns is not None else [self.question or ""]

    @property
    def scored_question(self) -> str:
        """The turn whose answer is scored (the last one)."""
        return self.all_turns[-1]


def _describe(exc: ValidationError) -> str:
    """The first validation error as "field 'x': message (got ...)"."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    where = f"field '{loc[0]}'" if loc else "item"
    if len(loc) > 1:
        where += f" item {int(loc[1]) + 1}" if loc[1].isdigit() else f" ({'.'.join(loc[1:])})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field; allowed: {', '.join(QAItem.model_fields)}"
    if err["type"] != "value_error":
        got = repr(err.get("input"))
        msg += f" (got {got[:60] + '...' if len(got) > 60 else got})"
    return f"{where}: {msg}"


def parse_qa_line(text: str, where: str) -> QAItem:
    """Validate one JSON line; `where` ("file line n") prefixes the error message."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QAFormatError(f"{where}: not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise QAFormatError(f"{where}: expected a JSON object, got {type(data).__name__}")
    try:
        return QAItem.model_validate(data)
    except ValidationError as exc:
        raise QAFormatError(f"{where}: {_describe(exc)}") from exc


def load_qa(path: Path | str, codes: Sequence[str] | None = None) -> list[QAItem]:
    """Read and validate a Q&A JSON Lines file.

    Args:
        path: the ``.jsonl`` file; blank lines are skipped.
        codes: the directorate codes of the assistant's catalogue, when known: an item naming another is an
            error (the eval has no list of codes of its own; a corpus defines them).

    Returns:
        The items in file order.

    Raises:
        QAFormatError: on the first bad line (invalid JSON, missing or unknown field, wrong type,
            unknown kind or directorate code, phrases on an out_of_scope item, duplicate id), with
            the file, the line number and the field in the message.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise QAFormatError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QAFormatError(f"{path}: cannot be read: {exc}") from exc
    items: list[QAItem] = []
    first_line: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = parse_qa_line(line, f"{path} line {n}")
        unknown = [c for c in item.directorates if codes is not None and c not in codes]
        if unknown:
            raise QAFormatError(f"{path} line {n}: field 'directorates': unknown directorate code(s) "
                                f"{', '.join(map(repr, unknown))}; known codes: {', '.join(codes or ())}")
        if item.id in first_line:
            raise QAFormatError(f"{path} line {n}: field 'id': duplicate id {item.id!r} "
                                f"(first used on line {first_line[item.id]})")
        first_line[item.id] = n
        items.append(item)
    if not items:
        raise QAFormatError(f"{path}: no Q&A items (the file is empty)")
    return items


class KindItem(BaseModel):
    """One labelled question of ``eval/kinds/``: what it asks for (`assistant.question.KINDS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: StrictStr = Field(min_length=1)
    kind: StrictStr
    language: StrictStr = Field(pattern=r"^[a-z]{2}$")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from assistant.question import KINDS

        if value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; known: {', '.join(KINDS)}")
        return value


def load_kinds(folder: Path | str) -> list[KindItem]:
    """The labelled questions of every ``*.jsonl`` file of ``folder`` (one language per file), validated.

    Raises:
        QAFormatError: no file, or a bad line (with the file, the line number and the field).
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise QAFormatError(f"{folder}: no labelled questions (*.jsonl) to fit the question kinds on")
    items: list[KindItem] = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                items.append(KindItem.model_validate_json(line))
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                field = ".".join(str(p) for p in err["loc"]) or "item"
                raise QAFormatError(f"{where}: {field}: {str(err['msg']).removeprefix('Value error, ')}") from exc
    return items
