"""Errors of the index stage; each message names the fix.

    DGMError (ingest.errors)
    └── IndexError_               base of index problems
        ├── IndexMissingError     no index folder / manifest
        ├── IndexCorruptError     a file is missing, truncated or fails its checksum
        └── IndexMismatchError    built with another model or format version
    EmbedderError                 the embedding model cannot be loaded
"""

from __future__ import annotations

from ingest.errors import DGMError

REBUILD_HINT = "run `dgm-assistant build` to (re)build it"


class IndexError_(DGMError):  # noqa: N801 - avoid shadowing the builtin IndexError
    """Base class for index problems."""


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class EmbedderError(DGMError):
    """The embedding model cannot be loaded."""
