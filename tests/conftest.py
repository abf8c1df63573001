"""Shared fixtures: the real packaged model, a real index of the shipped corpus, built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder():
    """The packaged all-MiniLM-L6-v2, loaded once through the real loading code."""
    from index import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory) -> Path:
    """A private copy of the shipped corpus (tests may add files to it)."""
    dst = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture(scope="session")
def settings(tmp_path_factory, corpus_copy):
    """Settings pointing at a temporary index and feedback file (never the developer's var/)."""
    from assistant.config import Settings

    base = tmp_path_factory.mktemp("var")
    return Settings(corpus_dir=corpus_copy, index_dir=base / "index", feedback_path=base / "feedback.jsonl")


@pytest.fixture(scope="session")
def built_index(settings, embedder):
    """The shipped corpus built into a temporary index folder with the real model and FAISS."""
    from assistant.factory import build

    build(settings, embedder=embedder, progress=False)
    return settings.index_dir


@pytest.fixture(scope="session")
def assistant(settings, built_index, embedder):
    """One assistant over the real index (tests use fresh session ids, so they do not interfere)."""
    from assistant.factory import load_assistant

    return load_assistant(settings, embedder=embedder)
