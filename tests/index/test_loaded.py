"""Loading an index: older folders, missing and corrupt files, model and format mismatches."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from index import PACKAGED_MODEL, IndexCorruptError, IndexMismatchError, IndexMissingError, SearchIndex
from index.embedders import embedder_name

pytestmark = pytest.mark.slow


def test_an_index_without_catalogue_vectors_still_loads_and_routes(tmp_path, built_index, assistant):
    """Indexes built before the vectors were stored: the router embeds the texts at start-up instead."""
    from assistant.pipeline import Assistant

    ix_dir = _copy_index(built_index, tmp_path / "old")
    (ix_dir / "catalogue_vectors.npz").unlink()
    manifest = json.loads((ix_dir / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["catalogue_vectors.npz"]
    (ix_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    ix = SearchIndex.load(ix_dir)
    assert ix.text_vectors == {}
    engine = Assistant.build_engine(ix, assistant.engine.embedder, assistant.engine.retriever.options)
    answer = Assistant(engine, assistant.options).ask("Which directorate deals with NATO?")
    assert answer.directorate is not None and answer.directorate.code == "M1"


def test_missing_index_names_the_fix(tmp_path):
    with pytest.raises(IndexMissingError, match="dgm-assistant build"):
        SearchIndex.load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexMissingError, match="no index manifest"):
        SearchIndex.load(tmp_path / "empty")


def _copy_index(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src.resolve(), dst)
    return dst


def test_corrupt_files_are_detected(tmp_path, built_index):
    ix = _copy_index(built_index, tmp_path / "a")
    with (ix / "vectors.faiss").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00garbage\x00")
    with pytest.raises(IndexCorruptError, match=r"vectors.faiss is corrupt .*dgm-assistant build"):
        SearchIndex.load(ix)
    ix = _copy_index(built_index, tmp_path / "b")
    (ix / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="chunks.jsonl is missing"):
        SearchIndex.load(ix)
    ix = _copy_index(built_index, tmp_path / "c")
    (ix / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest"):
        SearchIndex.load(ix)


def test_model_and_format_mismatch(tmp_path, built_index):
    built = re.escape(embedder_name(PACKAGED_MODEL, "onnx-int8"))
    with pytest.raises(IndexMismatchError, match=f"built with model '{built}' but 'other-model'"):
        SearchIndex.load(built_index, expected_model="other-model")
    ix = _copy_index(built_index, tmp_path / "v")
    m = json.loads((ix / "manifest.json").read_text())
    m["format_version"] = 999
    (ix / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError, match="format version 999"):
        SearchIndex.load(ix)


def test_an_index_of_the_previous_format_must_be_rebuilt(tmp_path, built_index):
    """Format 2 stored no sentence spans with its chunks: such an index is refused with the fix named."""
    ix = _copy_index(built_index, tmp_path / "v2")
    m = json.loads((ix / "manifest.json").read_text())
    m["format_version"] = 2
    (ix / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatchError, match=r"format version 2, this version reads 3; run `dgm-assistant build`"):
        SearchIndex.load(ix)
