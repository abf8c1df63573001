"""The assistant's errors, on top of the ingest and index ones.

    DGMError
    ├── CorpusError, CatalogueError          (ingest.errors)
    ├── IndexError_ ─ Missing / Corrupt / Mismatch, EmbedderError   (index.errors)
    ├── InputError          a bad question or parameter; names the field   -> HTTP 422
    ├── GeneratorError      the optional generator endpoint failed (the extractive answer is used)
    ├── SessionsUnavailable the session store (Redis) is down: follow-ups are answered on their own
    └── FeedbackUnavailable the feedback database refused a write; nothing was stored  -> HTTP 503

``api.py`` maps these to HTTP statuses in one place; the CLI prints their message and exits 2.
"""

from __future__ import annotations

from index.errors import (
    EmbedderError,
    IndexCorruptError,
    IndexError_,
    IndexMismatchError,
    IndexMissingError,
)
from ingest.errors import CatalogueError, CorpusError, DGMError


class InputError(DGMError):
    """A caller's input is invalid; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class GeneratorError(DGMError):
    """The generator endpoint failed or answered without valid citations."""


class SessionsUnavailable(DGMError):
    """The session store cannot be reached now (the conversation is neither restored nor saved)."""


class FeedbackUnavailable(DGMError):
    """Feedback could not be stored; ``detail`` says why, for the 503 answer."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


__all__ = [
    "CatalogueError",
    "CorpusError",
    "DGMError",
    "EmbedderError",
    "FeedbackUnavailable",
    "GeneratorError",
    "IndexCorruptError",
    "IndexError_",
    "IndexMismatchError",
    "IndexMissingError",
    "InputError",
    "SessionsUnavailable",
]
