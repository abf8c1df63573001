"""An ONNX Runtime embedder: the sentence-transformers model exported once, at build time, beside the index.

sentence-transformers' own ``backend="onnx"`` goes through ``optimum-onnx``, which pins ``transformers<4.58``
and so cannot sit beside the ``transformers`` 5 that sentence-transformers 6 needs. This module does the same
job with ``torch.onnx.export`` (the whole model: transformer, pooling and normalisation in one graph), the
``tokenizers`` library and ``onnxruntime``. Nothing is downloaded: the export is made from the local model
folder, and loading needs nothing but the export folder. multilingual-e5-small (index.e5) is exported with eager
attention, gets its own int8 recipe (`KEEP_FP32_FFN_OUTPUT`), its prompts, and is tokenised with SentencePiece.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .e5 import NORMALIZATION_FILE, SPM_FILE, E5Tokenizer, is_e5_folder
from .embedders import (
    PACKAGED_MODEL,
    QueryCache,
    embedder_name,
    int8_reduce_range,
    models_dir,
    passage_prompt,
    read_prompts,
    resolve_model,
)
from .errors import EmbedderError
from .folders import replace_folder

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
QUANTIZED_FILE = "model_int8.onnx"  # 7-bit weights (reduce range)
QUANTIZED_W8_FILE = "model_int8w8.onnx"  # 8-bit weights
TOKENIZER_FILE = "tokenizer.json"
EXPORT_META = "export.json"
EXPORT_FORMAT = 1
BUILD_HINT = "run `dgm-assistant build` with the same DGM_EMBEDDING_BACKEND to make it"
# Dynamic int8 quantisation of the weights, one scale per output channel (one per tensor strays much further
# from the fp32 vectors). Full 8-bit weights where the CPU multiplies int8 exactly, the closest to fp32; the
# 7-bit range where x86 CPUs without VNNI would saturate their u8 x s8 products (`int8_reduce_range`).
# The measurements behind each choice are in docs/performance.md ("The int8 export").


# The 12-layer e5 model loses more to int8 than MiniLM, most of it in the feed-forward output matmuls, whose
# 1536-wide inputs after GELU have the widest range: its recipe leaves those in fp32 (the other matmuls and the
# word-embedding Gather stay int8), for a slightly larger file and a little more time per query.
KEEP_FP32_FFN_OUTPUT = "ffn-output"


def int8_options(reduce_range: bool, keep_fp32: str | None = None) -> dict:
    """The int8 recipe recorded in export.json (an int8 file made with other options is quantised again)."""
    options: dict = {"per_channel": True, "reduce_range": reduce_range}
    if keep_fp32:
        options["keep_fp32"] = keep_fp32
    return options


def _fp32_nodes(model_file: Path, keep_fp32: str | None) -> list[str]:
    """The MatMul nodes an int8 recipe leaves in fp32: each encoder layer's feed-forward output."""
    if keep_fp32 is None:
        return []
    if keep_fp32 != KEEP_FP32_FFN_OUTPUT:
        raise ValueError(f"keep_fp32 must be {KEEP_FP32_FFN_OUTPUT!r} or None, got {keep_fp32!r}")
    import onnx

    graph = onnx.load(str(model_file), load_external_data=False).graph
    names = [n.name for n in graph.node if n.op_type == "MatMul" and "/output/dense/" in n.name
             and "/attention/" not in n.name]
    if not names:  # a renamed graph would otherwise quietly give a different int8 model
        raise EmbedderError(f"{model_file} has no feed-forward output MatMul to keep in fp32")
    return names


def quantized_file(reduce_range: bool) -> str:
    return QUANTIZED_FILE if reduce_range else QUANTIZED_W8_FILE


def _int8_meta(meta: dict) -> dict:
    """Which int8 files an export holds, with their options (format-1 exports recorded one, 7-bit)."""
    recorded = meta.get("int8") or {}
    if "per_channel" in recorded:
        return {QUANTIZED_FILE: recorded}
    return dict(recorded)


def _quantize(source: Path, target: Path, options: dict) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = dict(options)
    exclude = _fp32_nodes(source, options.pop("keep_fp32", None))
    if exclude:
        options["nodes_to_exclude"] = exclude
    # The quantiser logs, on the root logger, advice to pre-process the model first (shape inference and graph
    # optimisation, which ONNX Runtime's session does when it loads the model); silenced.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, **options)  # type: ignore[arg-type]
    finally:
        logging.disable(logging.NOTSET)


def onnx_dir(index_dir: Path, model: str = PACKAGED_MODEL) -> Path:
    """Where the ONNX export of ``model`` lives: ``<index folder's parent>/models/<model>-onnx`` (`models_dir`,
    beside a model built there, such as ``models/multilingual-e5-small``)."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in Path(model).name or model)
    return models_dir(index_dir) / f"{slug}-onnx"


def _source_fingerprint(model_path: Path) -> str:
    """Cheap identity of a model folder: names, sizes and modification times of its files."""
    parts = []
    for p in sorted(model_path.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            parts.append(f"{p.relative_to(model_path).as_posix()}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def read_export_meta(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / EXPORT_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export_onnx(model: str, folder: Path, quantize: bool = False, opset: int = 17,
                reduce_range: bool | None = None) -> Path:
    """Export ``model`` to ``folder`` (model.onnx, tokenizer.json, export.json), unless it is already there.

    The export is written to a temporary sibling folder and renamed into place, so a crash never leaves a
    half-written model behind. An existing export of the same source model is reused.

    Args:
        model: a model name (the packaged one, or multilingual-e5-small, built beside the export folder when
            missing) or a local sentence-transformers folder.
        folder: the export folder, usually ``onnx_dir(settings.index_dir, model)``.
        quantize: also write the int8 model (dynamic int8 quantisation of the weights).
        opset: ONNX opset of the export.
        reduce_range: 7-bit weights (``model_int8.onnx``) or 8-bit (``model_int8w8.onnx``); None picks by
            CPU (`int8_reduce_range`). Both kinds can sit in one export; a missing one is quantised from the
            fp32 model without exporting again.

    Returns:
        The export folder.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder = Path(folder).absolute()
    source = Path(resolve_model(model, folder.parent))
    fingerprint = _source_fingerprint(source) if source.is_dir() else model
    meta = read_export_meta(folder)
    rr = int8_reduce_range(reduce_range)
    qfile, qopts = quantized_file(rr), int8_options(rr, KEEP_FP32_FFN_OUTPUT if is_e5_folder(source) else None)
    if (meta and meta.get("format") == EXPORT_FORMAT and meta.get("source_fingerprint") == fingerprint
            and (folder / MODEL_FILE).is_file()):
        if not quantize or ((folder / qfile).is_file() and _int8_meta(meta).get(qfile) == qopts):
            return folder
        tmp_file = folder / f".{qfile}.tmp-{os.getpid()}"
        try:
            _quantize(folder / MODEL_FILE, tmp_file, qopts)
            tmp_file.replace(folder / qfile)
        finally:
            tmp_file.unlink(missing_ok=True)
        meta["int8"] = {**_int8_meta(meta), qfile: qopts}
        tmp_meta = folder / f".{EXPORT_META}.tmp-{os.getpid()}"
        tmp_meta.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp_meta.replace(folder / EXPORT_META)
        log.info("quantised the ONNX export at %s to %s", folder, qfile)
        return folder

    import torch
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    # The e5 model is traced with eager attention: its graph is plain MatMul/Softmax, which the int8 and 4-bit
    # quantisers handle (MiniLM keeps the export its indexes were built with).
    kwargs = {"attn_implementation": "eager"} if is_e5_folder(source) else None
    try:
        st = SentenceTransformer(str(source), device="cpu", backend="torch", model_kwargs=kwargs)
    except Exception as exc:  # the library raises many kinds (OSError, ValueError, HF errors)
        raise EmbedderError(f"cannot load embedding model {model!r} ({source}) to export it: {exc}") from exc
    input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
                   if n in st.tokenizer.model_input_names]

    class _Graph(torch.nn.Module):
        """The whole sentence-transformers pipeline (transformer, pooling, normalise) as one graph."""

        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            return self.inner(dict(zip(input_names, tensors, strict=True)))["sentence_embedding"]

    def write(tmp: Path) -> None:
        sample = st.tokenizer(["a short query", "a somewhat longer passage of text to embed"], padding=True,
                              return_tensors="pt")
        args = tuple(sample[n] for n in input_names)
        dynamic = {n: {0: "batch", 1: "tokens"} for n in input_names}
        dynamic["sentence_embedding"] = {0: "batch"}
        # The sample batch has two lengths, so padding and the attention mask are part of the traced graph.
        # The tracer warns about Python conditions it freezes (no kv-cache padding, a mask is given, the mask
        # matches the tokens): each holds for every input this graph is fed; the tests compare with torch.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The TorchScript exporter: one graph, no onnxscript needed; dynamic batch and length.
            torch.onnx.export(_Graph(st.eval()), args, str(tmp / MODEL_FILE), input_names=input_names,
                              output_names=["sentence_embedding"], dynamic_axes=dynamic, opset_version=opset,
                              dynamo=False)
        if quantize:
            _quantize(tmp / MODEL_FILE, tmp / qfile, qopts)
        st.tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
        spm = is_e5_folder(source)  # served with SentencePiece: same ids, a quarter of the memory (E5Tokenizer)
        if spm:
            for name in (SPM_FILE, NORMALIZATION_FILE):
                shutil.copyfile(source / name, tmp / name)
        normalized = any(type(m).__name__ == "Normalize" for m in st)
        meta = {"format": EXPORT_FORMAT, "model": model, "source": str(source), "source_fingerprint": fingerprint,
                "dimension": int(st.get_embedding_dimension() or 0), "max_seq_length": int(st.max_seq_length or 0),
                "input_names": input_names, "pad_id": int(st.tokenizer.pad_token_id or 0),
                "pad_token": str(st.tokenizer.pad_token or "[PAD]"), "normalized": normalized,
                "prompts": read_prompts(source), "tokenizer": "sentencepiece" if spm else "tokenizers",
                "bos_id": int(st.tokenizer.bos_token_id or 0), "eos_id": int(st.tokenizer.eos_token_id or 0),
                "opset": opset, "torch": torch.__version__, "quantized": quantize,
                "int8": {qfile: qopts} if quantize else {},
                "seconds": round(time.perf_counter() - t0, 2)}
        (tmp / EXPORT_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    replace_folder(folder, write)
    log.info("exported %s to ONNX at %s in %.1f s", model, folder, time.perf_counter() - t0)
    return folder


class OnnxEmbedder:
    """The exported model run by ONNX Runtime, with the same LRU cache of query vectors as the torch one.

    Args:
        folder: an export folder made by `export_onnx`.
        name: the model name recorded in index manifests (the fp32 export gives the same vectors as torch,
            to about 1e-7, so it keeps the model's name; the int8 ones do not, see `embedder_name`).
        batch_size: batch size for corpus encoding (fp32).
        query_cache_size: how many query vectors to keep (0 disables the cache).
        threads: cores per call to the fp32 model (ONNX Runtime intra-op threads; None: every core); for the
            int8 model, how many texts ``encode`` runs at once, each call on one core.
        quantized: run an int8 model instead of ``model.onnx``.
        reduce_range: which int8 model: 7-bit weights or 8-bit; None picks by CPU (`int8_reduce_range`).

    The int8 model quantises its activations with one scale per call, so a text's vector would depend on
    the other texts of its batch (and their padding). It therefore embeds every text alone, exactly as a
    query is embedded, and gets its throughput from running ``threads`` texts in parallel instead (ONNX
    Runtime releases the GIL); on 2 cores that is as fast as batching and the vectors are batch-independent.
    """

    backend = "onnx"

    def __init__(self, folder: Path, name: str | None = None, batch_size: int = 32, query_cache_size: int = 2048,
                 threads: int | None = None, quantized: bool = False, reduce_range: bool | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        folder = Path(folder)
        meta = read_export_meta(folder)
        rr = int8_reduce_range(reduce_range)
        file = folder / (quantized_file(rr) if quantized else MODEL_FILE)
        if meta is None or not file.is_file() or not (folder / TOKENIZER_FILE).is_file():
            raise EmbedderError(f"no ONNX export of the embedding model at {folder} ({file.name} missing); "
                                f"{BUILD_HINT}")
        if meta.get("format") != EXPORT_FORMAT:
            raise EmbedderError(f"the ONNX export at {folder} has format {meta.get('format')}, this version "
                                f"reads {EXPORT_FORMAT}; {BUILD_HINT}")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderError(f"the onnx backend needs onnxruntime ({exc}); `pip install onnxruntime` or set "
                                "DGM_EMBEDDING_BACKEND=torch") from exc

        opts = ort.SessionOptions()
        # 0 = ONNX Runtime's default, one per core. int8 calls each get one core (see the class docstring).
        opts.intra_op_num_threads = 1 if quantized else (threads or 0)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # Idle worker threads spin by default; on a small machine that steals the cores that other requests
        # (and the web server) need.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._spm: E5Tokenizer | None = None
        try:
            self._session = ort.InferenceSession(str(file), opts, providers=["CPUExecutionProvider"])
            if meta.get("tokenizer") == "sentencepiece":
                self._spm = E5Tokenizer(folder, int(meta["max_seq_length"]), bos=int(meta["bos_id"]),
                                        eos=int(meta["eos_id"]), pad=int(meta["pad_id"]))
            else:
                tok = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
                tok.enable_truncation(int(meta["max_seq_length"]))
                tok.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
                self._tok = tok
        except EmbedderError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types on a damaged file
            raise EmbedderError(f"cannot load the ONNX export at {file}: {exc}; {BUILD_HINT}") from exc
        self._inputs = list(meta["input_names"])
        self._normalized = bool(meta.get("normalized"))
        # The model's prompts (e5: "query: ", "passage: "); none for MiniLM, whose texts go in unchanged.
        self.prompts = dict(meta.get("prompts") or {})
        self._query_prompt = self.prompts.get("query", "")
        self._passage_prompt = passage_prompt(self.prompts)
        model = str(meta.get("model") or folder.name)
        self.name = name or embedder_name(model, "onnx-int8" if quantized else "onnx", reduce_range=rr)
        self.dim = int(meta["dimension"])
        self.path = str(folder)
        self.quantized = quantized
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._cache = QueryCache(query_cache_size)

    def _feeds(self, texts: list[str]) -> dict[str, np.ndarray]:
        if self._spm is not None:
            ids, mask = self._spm.batch(texts)
            columns = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            return {n: columns[n] for n in self._inputs}
        enc = self._tok.encode_batch(texts)
        feeds = {}
        for n in self._inputs:
            if n == "input_ids":
                feeds[n] = np.array([e.ids for e in enc], dtype=np.int64)
            elif n == "attention_mask":
                feeds[n] = np.array([e.attention_mask for e in enc], dtype=np.int64)
            else:
                feeds[n] = np.array([e.type_ids for e in enc], dtype=np.int64)
        return feeds

    def _run(self, texts: list[str]) -> np.ndarray:
        out = self._session.run(None, self._feeds(texts))[0]
        if not self._normalized:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Passage vectors, shape (n, dim), with the model's passage prompt if it has one."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [self._passage_prompt + t for t in texts] if self._passage_prompt else list(texts)
        if self.quantized:
            return self._encode_one_by_one(texts)
        # Batches of similar length pad less (sentence-transformers sorts the same way).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for s in range(0, len(order), self.batch_size):
            ids = order[s:s + self.batch_size]
            out[ids] = self._run([texts[i] for i in ids])
        return out

    def _encode_one_by_one(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        workers = min(self.threads, len(texts))
        if workers <= 1:
            for i, t in enumerate(texts):
                out[i] = self._run([t])[0]
            return out
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:
            for i, vec in enumerate(pool.map(lambda t: self._run([t])[0], texts)):
                out[i] = vec
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,), from the cache when the same text was seen recently."""
        return self._cache.get_or_compute(text, lambda t: self._run([self._query_prompt + t])[0])

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks and evaluations measure cold queries)."""
        self._cache.clear()
