"""Corpora to evaluate on: the shipped seeds alone, or the seeds plus the growth fixture (``eval/growth/``:
fictional pages in the manner of the FPS site, never shipped as the corpus), with nothing retuned."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

GROWTH_DIR = Path(__file__).resolve().parent / "growth"


def compose_corpus(seeds: Path, extra: Path, out: Path) -> Path:
    """A corpus folder at ``out``: the seeds' pages, catalogue and fits, plus ``extra``'s pages and their
    metadata (its ``documents.yaml`` entries, whose ``file`` may start with ``pages/``). Rewritten each time."""
    seeds, extra, out = Path(seeds), Path(extra), Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(seeds, out)
    meta_path = out / "documents.yaml"
    documents = (yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}).get("documents", []) \
        if meta_path.is_file() else []
    extra_meta = yaml.safe_load((extra / "documents.yaml").read_text(encoding="utf-8")) or {}
    for entry in extra_meta.get("documents", []):
        name = str(entry["file"]).removeprefix("pages/")
        target = out / "pages" / name
        if target.exists():
            raise ValueError(f"{extra}: page {name} is also a seed page; rename it")
        shutil.copy2(extra / "pages" / name, target)
        documents.append({**entry, "file": name})
    meta_path.write_text(yaml.safe_dump({"documents": documents}, allow_unicode=True, sort_keys=False),
                         encoding="utf-8")
    return out
