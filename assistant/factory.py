"""Turn settings into objects: the embedder, the index build, the assistant. Used by the CLI and the app."""

from __future__ import annotations

import logging
from dataclasses import replace

from index import BuildReport, SearchIndex, SentenceTransformerEmbedder, build_index
from ingest import chunk_corpus

from .config import Settings
from .conversation import make_store
from .pipeline import AskOptions, Assistant, Engine
from .route import RouterWeights
from .tuning import load_tuned

log = logging.getLogger(__name__)


def make_embedder(settings: Settings, for_build: bool = False) -> SentenceTransformerEmbedder:
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
        return OnnxEmbedder(folder, name=embedder_name(settings.embedding_model, backend,  # type: ignore[return-value]
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


def build(settings: Settings, embedder: SentenceTransformerEmbedder | None = None,
          progress: bool = True) -> BuildReport:
    """corpus -> chunks -> index folder, per the settings."""
    chunks, catalogue = chunk_corpus(settings.corpus_dir, settings.chunk_max_words, settings.chunk_overlap)
    embedder = embedder or make_embedder(settings, for_build=True)
    used = {"chunk_max_words": settings.chunk_max_words, "chunk_overlap": settings.chunk_overlap,
            "corpus_dir": str(settings.corpus_dir), "embedding_backend": settings.embedding_backend}
    return build_index(chunks, embedder, settings.index_dir, settings.index_type, settings=used,
                       progress=progress, catalogue=catalogue)


def engine_kwargs(settings: Settings, reranker=None) -> dict:
    return {"candidates": settings.candidates, "fusion": settings.fusion, "rrf_k": settings.rrf_k,
            "dense_weight": settings.dense_weight, "bm25_weight": settings.bm25_weight,
            "mmr_lambda": settings.mmr_lambda,
            "mode": settings.retrieval_mode, "reranker": reranker}


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


def load_engine(settings: Settings, embedder: SentenceTransformerEmbedder | None = None,
                router_weights: RouterWeights | None = None) -> Engine:
    """The index, retriever and router; ``router_weights`` default to the fit for the embedding model."""
    embedder = embedder or make_embedder(settings)
    index = SearchIndex.load(settings.index_dir, expected_model=embedder.name)
    if router_weights is None:
        _, router_weights = load_tuned(embedder.name)
    return Assistant.build_engine(index, embedder, router_weights=router_weights,
                                  **engine_kwargs(settings, make_reranker(settings)))


def load_assistant(settings: Settings, embedder: SentenceTransformerEmbedder | None = None,
                   options: AskOptions | None = None) -> Assistant:
    """Load the model and the index once and assemble the assistant."""
    embedder = embedder or make_embedder(settings)
    scope_weights, router_weights = load_tuned(embedder.name)  # read once, for both
    engine = load_engine(settings, embedder, router_weights)
    sessions = make_store(settings.session_url, settings.max_sessions, settings.session_ttl_s, settings.max_turns)
    opts = options or AskOptions(mode=settings.retrieval_mode, abstain_threshold=settings.abstain_threshold,
                                 max_question_chars=settings.max_question_chars)
    if scope_weights.question_weights and len(scope_weights.question_weights) != engine.embedder.dim:
        log.warning("the question model in %s has %d weights, the embedding model %r gives %d dimensions; "
                    "it is left out (run `python -m eval.tune --write` with this model)", "assistant/tuned.json",
                    len(scope_weights.question_weights), engine.embedder.name, engine.embedder.dim)
        scope_weights = replace(scope_weights, question_bias=0.0, question_weights=())
    return Assistant(engine, sessions=sessions, options=opts, generator=make_generator(settings),
                     scope_weights=scope_weights)
