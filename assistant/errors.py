"""The assistant's errors, on top of the ingest and index ones.

    DGMError
    ├── CorpusError, CatalogueError          (ingest.errors)
    ├── IndexError_ ─ Missing / Corrupt / Mismatch, EmbedderError   (index.errors)
    ├── InputError          a bad question or parameter; names the field   -> HTTP 422
    └── GeneratorError      the optional generator endpoint failed (the extractive answer is used)

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


__all__ = [
    "CatalogueError",
    "CorpusError",
    "DGMError",
    "EmbedderError",
    "GeneratorError",
    "IndexCorruptError",
    "IndexError_",
    "IndexMismatchError",
    "IndexMissingError",
    "InputError",
]
