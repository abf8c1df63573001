"""Turn settings into objects: the embedder, the index build, the assistant. Used by the CLI and the app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from index import (
    BuildReport,
    Embedder,
    IndexMissingError,
    Manifest,
    SearchIndex,
    SentenceTransformerEmbedder,
    build_index,
)
from index.errors import REBUILD_HINT, IndexError_
from ingest import chunk_corpus

from .config import Settings
from .fit import FIT_FILE, Fit, load_fit
from .pipeline import AskOptions, Assistant, Engine
from .question import LanguageDetector, Speller
from .retrieve import DEFAULT_FUSION, RetrievalOptions
from .sessions import FirstTurnTokens, make_store

log = logging.getLogger(__name__)


def make_embedder(settings: Settings, for_build: bool = False) -> Embedder:
    """The embedding model per ``settings.embedding_backend``: ``torch`` (sentence-transformers), ``onnx`` (the
    same model exported to ONNX, same vectors) or ``onnx-int8`` (its int8-quantised export, own indexes).

    The ONNX backends run an export stored beside the index (``<index parent>/models/<model>-onnx``); a build
    (``for_build=True``) makes it when missing, a service that finds none fails naming `dgm-assistant build`.
    A build uses every core for batch encoding; a service gives each of its ``model_threads`` concurrent
    requests its share of the cores, which is faster than letting them all fan out over every core.
    """
    import os

    from index.embedders import embedder_name, models_dir, set_threads

    cores = os.cpu_count() or 1
    threads = cores if for_build else max(1, cores // settings.model_threads)
    backend = str(settings.embedding_backend)
    if backend in ("onnx", "onnx-int8"):
        from index.onnx import OnnxEmbedder, onnx_dir

        folder = onnx_dir(settings.index_dir, settings.embedding_model)
        quantized = backend == "onnx-int8"
        if for_build:
            ensure_export(settings)
        set_threads(threads)
        return OnnxEmbedder(folder, name=embedder_name(settings.embedding_model, backend,
                                                       settings.int8_reduce_range),
                            threads=threads, quantized=quantized, reduce_range=settings.int8_reduce_range)
    embedder = SentenceTransformerEmbedder(settings.embedding_model, backend="torch",
                                           models=models_dir(settings.index_dir))
    set_threads(threads)
    return embedder


def ensure_export(settings: Settings) -> None:
    """For the ONNX backends, make the model's export beside the index if it is not there yet (a no-op when it
    is, and for torch). Exporting loads the model with torch once; serving never needs torch afterwards."""
    if settings.embedding_backend in ("onnx", "onnx-int8"):
        from index.onnx import export_onnx, onnx_dir

        export_onnx(settings.embedding_model, onnx_dir(settings.index_dir, settings.embedding_model),
                    quantize=settings.embedding_backend == "onnx-int8", reduce_range=settings.int8_reduce_range)


def build(settings: Settings, embedder: Embedder | None = None,
          progress: bool = True) -> BuildReport:
    """corpus -> chunks -> index folder, per the settings."""
    chunks, catalogue = chunk_corpus(settings.corpus_dir, settings.chunk_max_words, settings.chunk_overlap,
                                     settings.structure_min_units)
    embedder = embedder or make_embedder(settings, for_build=True)
    used = {"chunk_max_words": settings.chunk_max_words, "chunk_overlap": settings.chunk_overlap,
            "corpus_dir": str(settings.corpus_dir), "embedding_backend": settings.embedding_backend,
            "centre_languages": settings.centre_languages}
    previous = Fit.read(settings.index_dir / FIT_FILE)  # a fit made for the index this build replaces
    # What that index searched: a fit holds for the rebuilt one only over the same vectors.
    was_centred = _centred(settings.index_dir) if previous is not None else None
    report = build_index(chunks, embedder, settings.index_dir, settings.index_type, settings=used,
                         progress=progress, catalogue=catalogue, centre=settings.centre_languages)
    if previous is not None and previous.model == report.model:
        built = Manifest.read(Path(settings.index_dir).resolve())  # the manifest alone, not the whole index
        same_vectors = was_centred == settings.centre_languages or len({c.language for c in chunks}) < 2
        if built.corpus_fingerprint == previous.corpus_fingerprint and same_vectors:
            previous.write(Path(settings.index_dir).resolve() / FIT_FILE)  # same model, same corpus: it holds
    return report


def _centred(index_dir: Path) -> bool | None:
    """Whether the index at ``index_dir`` searches language-centred vectors (`index.build.centre_languages`);
    an index built before that was recorded did not; None without a readable index."""
    try:
        return bool(Manifest.read(Path(index_dir).resolve()).settings.get("centre_languages", False))
    except (OSError, IndexError_):
        return None


def retrieval_options(settings: Settings, fusion: tuple[float, float] | None = None) -> RetrievalOptions:
    """The retrieval knobs from the settings; the fusion weights the settings leave unset come from ``fusion``
    (the fit's), else `DEFAULT_FUSION`."""
    dense, bm25 = fusion or DEFAULT_FUSION
    return RetrievalOptions(candidates=settings.candidates, fusion=settings.fusion, rrf_k=settings.rrf_k,
                            dense_weight=dense if settings.dense_weight is None else settings.dense_weight,
                            bm25_weight=bm25 if settings.bm25_weight is None else settings.bm25_weight,
                            mmr_lambda=settings.mmr_lambda, mode=settings.retrieval_mode)


def make_detector(settings: Settings) -> LanguageDetector:
    return LanguageDetector(settings.languages)


def make_speller(settings: Settings, index: SearchIndex) -> Speller | None:
    """The index's speller (its own vocabulary, per language), or None when spelling is off."""
    if not settings.spelling:
        return None
    return Speller.from_index(index.chunks, index.catalogue, min_zipf=settings.spelling_min_zipf,
                              min_length=settings.spelling_min_length, long_word=settings.spelling_long_word)


def make_reranker(settings: Settings):
    if not settings.reranker_model:
        return None
    from sentence_transformers import CrossEncoder

    return CrossEncoder(settings.reranker_model, device="cpu")


def make_generator(settings: Settings):
    if not settings.generator_url:
        return None
    from .generate import OpenAICompatibleGenerator

    return OpenAICompatibleGenerator(settings.generator_url, settings.generator_model,
                                     api_key=settings.generator_api_key, timeout_s=settings.generator_timeout_s)


def _reads(embedder: Embedder, part: str, dim: int, source: str) -> bool:
    """Whether a fitted model over ``dim``-dimensional vectors reads ``embedder``'s; if not, says it is left out."""
    if dim == embedder.dim:
        return True
    log.warning("the %s in %s reads %d dimensions, the embedding model %r gives %d; it is left out (run "
                "`dgm-assistant tune --write` with this model)", part, source, dim, embedder.name, embedder.dim)
    return False


def load_engine(settings: Settings, embedder: Embedder | None = None, reranker=None,
                detector: LanguageDetector | None = None, index_dir: Path | None = None) -> Engine:
    """The index (``index_dir``, default the settings'), its question reader, retriever and router, with the
    fit found for it (`assistant.fit.load_fit`)."""
    folder = Path(index_dir or settings.index_dir)
    if not (folder.exists() or folder.is_symlink()):  # say so before the model, whose export may be missing too
        raise IndexMissingError(f"no index at {folder}; {REBUILD_HINT} (`dgm-assistant serve` builds it when "
                                "there is none)")
    embedder = embedder or make_embedder(settings)
    index = SearchIndex.load(folder, expected_model=embedder.name)
    centred = bool(index.manifest.settings.get("centre_languages", False))
    if centred != settings.centre_languages and len({c.language for c in index.chunks}) > 1:
        log.warning("the index at %s was built with DGM_CENTRE_LANGUAGES=%s, the settings say %s: it searches its "
                    "vectors as built until `dgm-assistant build` rebuilds it", folder, str(centred).lower(),
                    str(settings.centre_languages).lower())
    fit = load_fit(index.path, settings.fits_dir or settings.corpus_dir / "fits", embedder.name,
                   index.manifest.corpus_fingerprint)
    scope_weights, kinds = fit.scope, fit.kinds
    if scope_weights.question_weights and not _reads(embedder, "question model", len(scope_weights.question_weights),
                                                     fit.source):
        scope_weights = replace(scope_weights, question_bias=0.0, question_weights=())
    if kinds is not None and not _reads(embedder, "question-kind model", kinds.dim, fit.source):
        kinds = None
    return Assistant.build_engine(index, embedder, retrieval_options(settings, fit.fusion),
                                  router_weights=fit.router, scope_weights=scope_weights, reranker=reranker,
                                  detector=detector or make_detector(settings), kinds=kinds,
                                  speller=make_speller(settings, index))


def engine_loader(settings: Settings, engine: Engine) -> Callable[[Path], Engine]:
    """What loads a rebuilt index for a running assistant: its model, reranker and detector are kept."""
    return partial(load_engine, settings, engine.embedder, engine.retriever.reranker, engine.reader.detector)


def ask_options(settings: Settings, **switches: bool) -> AskOptions:
    """The per-question options from the settings; ``switches`` turn stages off (use_router=False, ...)."""
    return AskOptions(mode=settings.retrieval_mode, abstain_threshold=settings.abstain_threshold,
                      max_question_chars=settings.max_question_chars, max_top_k=settings.max_top_k,
                      unquoted_ratio=settings.cite_unquoted_ratio, later_ratio=settings.quote_later_ratio,
                      suggestions=settings.suggestions, **switches)


def load_assistant(settings: Settings, embedder: Embedder | None = None, **switches: bool) -> Assistant:
    """Load the model and the index once and assemble the assistant (``switches``: see `ask_options`)."""
    engine = load_engine(settings, embedder, make_reranker(settings))
    sessions = make_store(settings.session_url, settings.max_sessions, settings.session_ttl_s, settings.max_turns,
                          max_bytes=settings.max_session_memory_bytes,
                          max_session_bytes=settings.max_session_bytes, timeout_s=settings.redis_timeout_s,
                          retry_s=settings.redis_retry_s)
    tokens = FirstTurnTokens(settings.session_secret, ttl_s=settings.session_ttl_s,
                             max_bytes=settings.session_token_bytes)
    if settings.session_url and not settings.session_secret:
        log.warning("sessions are shared through Redis but DGM_SESSION_SECRET is unset: a conversation's "
                    "second turn continues only on the replica that answered its first")
    return Assistant(engine, ask_options(settings, **switches), sessions=sessions,
                     generator=make_generator(settings), tokens=tokens)
