"""Corpora to evaluate on: the shipped seeds alone, or the seeds plus the growth fixture (``eval/growth/``:
fictional pages in the manner of the FPS site, never shipped as the corpus), with nothing retuned."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from assistant.config import Settings
from index import Embedder

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


def grown(settings: Settings, embedder: Embedder) -> Settings:
    """Settings for the shipped corpus plus the growth fixture, whose index is built (or brought up to date)
    beside the settings' own (``<index folder's parent>/growth/``) with ``embedder``. Fits are read from the
    seeds' fits folder, so nothing is retuned for the new pages."""
    from assistant.factory import build

    root = Path(settings.index_dir).parent / "growth"
    out = settings.model_copy(update={"corpus_dir": compose_corpus(settings.corpus_dir, GROWTH_DIR, root / "corpus"),
                                      "index_dir": root / "index",
                                      "fits_dir": settings.fits_dir or Path(settings.corpus_dir) / "fits"})
    build(out, embedder=embedder, progress=False)
    return out
