"""The index folder's manifest: what was built, from what, with which model and settings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from .errors import REBUILD_HINT, IndexCorruptError

FORMAT_VERSION = 3  # 2: BM25 analysed per language (bm25/analysis.json); 3: chunks keep their sentence spans
MANIFEST = "manifest.json"


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    model: str
    dimension: int
    chunk_count: int
    corpus_fingerprint: str
    index_type: str
    settings: dict = Field(default_factory=dict)
    created_at: str
    files: dict[str, str] = Field(default_factory=dict)  # file name -> sha256

    def write(self, folder: Path) -> None:
        path = folder / MANIFEST
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"index manifest {path} is unreadable ({exc.__class__.__name__}); "
                                    f"{REBUILD_HINT}") from exc


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(hashes: Iterable[str]) -> str:
    """A fingerprint of a corpus: sha256 over its chunks' content hashes, in order."""
    h = hashlib.sha256()
    for x in hashes:
        h.update(x.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]
