"""The HTTP service: an app factory assembling routes, middleware, error mapping, metrics and the lifespan.

Routes (under ``/api``): ``POST /ask``, ``GET /directorates``, ``POST /feedback``, ``GET /health``,
``GET /ready``; plus ``/metrics`` (Prometheus), ``/openapi.json``, ``/docs`` and the widget's files
(``/``, ``/widget.js``).

The model and index load once per worker in the lifespan, off the event loop; model work runs in a bounded
thread pool, so health checks answer at once while questions are being answered. A background task swaps in
a rebuilt index (polling, or at once on SIGHUP) without failing requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CollectorRegistry, Counter
from prometheus_fastapi_instrumentator import Instrumentator, metrics
from redis.exceptions import RedisError
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.errors import DGMError

from . import factory
from .config import Settings
from .errors import IndexError_, InputError
from .feedback import FeedbackWriter
from .middleware import BodyLimitMiddleware, RequestContextMiddleware, content_security_policy
from .models import Answer
from .pipeline import Assistant
from .schemas import (
    AskRequest,
    AskResponse,
    DirectorateInfo,
    ErrorResponse,
    FeedbackRequest,
    HealthResponse,
    IndexInfo,
    ReadyResponse,
)

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# `dgm-assistant serve` passes its settings to the worker processes through this variable (JSON).
SETTINGS_ENV = "DGM_SERVE_SETTINGS"
LOADING = "loading the model and the index"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


# -- state and dependencies -------------------------------------------------------------------------------
class AnswerMetrics:
    """Prometheus counters of what the assistant answered (request counts and latencies come from the
    instrumentator)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.answers = Counter("dgm_answers_total", "Answers given, by directorate ('none' if unrouted)",
                               ["directorate"], registry=registry)
        self.abstentions = Counter("dgm_abstentions_total", "Questions the assistant declined as not covered",
                                   registry=registry)
        self.reloads = Counter("dgm_index_reloads_total", "Rebuilt indexes swapped in", registry=registry)

    def observe(self, answer: Answer) -> None:
        if answer.abstained:
            self.abstentions.inc()
        else:
            self.answers.labels(answer.directorate.code if answer.directorate else "none").inc()


def get_assistant(request: Request) -> Assistant:
    """The loaded assistant, or 503 while it is loading (or failed to load)."""
    assistant = request.app.state.assistant
    if assistant is None:
        raise HTTPException(status_code=503, detail=request.app.state.not_ready)
    return assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body too large"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "The index is not loaded (yet)"},
}


# -- routes -----------------------------------------------------------------------------------------------
def api_router(settings: Settings, limiter: Limiter) -> APIRouter:
    """The JSON API; built per app because the rate limit comes from the settings."""
    router = APIRouter(prefix="/api", tags=["assistant"])

    @router.post("/ask", response_model=AskResponse, responses=_ERRORS,
                 summary="Answer a question with citations and the directorate that handles it")
    @limiter.limit(settings.rate_limit)
    async def ask(request: Request, response: Response, body: AskRequest,
                  assistant: AssistantDep) -> AskResponse:
        answer = await anyio.to_thread.run_sync(
            partial(assistant.ask, body.question, session_id=body.session_id, top_k=body.top_k,
                    directorate=body.directorate, document=body.document),
            limiter=request.app.state.model_limiter)
        request.app.state.metrics.observe(answer)
        return AskResponse.from_answer(answer)

    @router.post("/feedback", status_code=204, response_class=Response, responses=_ERRORS,
                 summary="Record a thumbs up or down on an answer")
    @limiter.limit(settings.rate_limit)
    async def feedback(request: Request, body: FeedbackRequest) -> Response:
        record = {**body.model_dump(), "request_id": request.state.request_id}
        await anyio.to_thread.run_sync(request.app.state.feedback.write, record)
        return Response(status_code=204)

    @router.get("/directorates", response_model=list[DirectorateInfo], responses={503: _ERRORS[503]},
                summary="The DGM's directorates and services, each with a starter question")
    async def directorates(assistant: AssistantDep) -> list[DirectorateInfo]:
        return [DirectorateInfo.from_directorate(d) for d in assistant.catalogue.directorates]

    @router.get("/health", response_model=HealthResponse, summary="Liveness: the process answers")
    async def health() -> HealthResponse:
        return HealthResponse()

    @router.get("/ready", response_model=ReadyResponse, responses={503: _ERRORS[503]},
                summary="Readiness: the model and index are loaded; which index is in use")
    async def ready(assistant: AssistantDep) -> ReadyResponse:
        index = assistant.engine.index
        m = index.manifest
        return ReadyResponse(index=IndexInfo(path=str(index.path), chunks=len(index.chunks),
                                             created_at=m.created_at, model=m.model, index_type=m.index_type,
                                             corpus_fingerprint=m.corpus_fingerprint))

    return router


def static_router() -> APIRouter:
    """The demo page and the widget's files, served from ``assistant/static`` as they are."""
    router = APIRouter(include_in_schema=False)

    def serve(name: str, media_type: str) -> FileResponse:
        path = STATIC_DIR / name
        if not path.is_file():
            raise HTTPException(status_code=404, detail=f"{name} is not installed")
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})

    @router.get("/")
    async def index_page() -> FileResponse:
        return serve("index.html", "text/html; charset=utf-8")

    @router.get("/widget.js")
    async def widget_js() -> FileResponse:
        return serve("widget.js", "text/javascript; charset=utf-8")

    @router.get("/widget.css")
    async def widget_css() -> FileResponse:
        return serve("widget.css", "text/css; charset=utf-8")

    languages = ("en", "fr", "nl", "de")  # the widget's own texts, one file each; English is also built in

    @router.get("/i18n/{lang}.json")
    async def widget_texts(lang: str) -> FileResponse:
        if lang not in languages:
            raise HTTPException(status_code=404, detail=f"the widget's texts exist in {', '.join(languages)} only")
        return serve(f"i18n/{lang}.json", "application/json")

    return router


# -- error mapping (the one place domain errors become HTTP statuses) -------------------------------------
def _client_error(exc: InputError) -> dict[str, Any]:
    return {"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}


def rate_limit_headers(request: Request) -> dict[str, str]:
    """Retry-After and the X-RateLimit-* headers of a refused request, read from the limit it exceeded.

    Only refusals carry them: slowapi's ``headers_enabled`` would add them to every answer, at the cost of
    one more storage round trip per request (two with Redis), which measured ~10 % of the throughput of
    two workers at 16 clients. A storage that cannot be read leaves the window's length as the wait.
    """
    current = getattr(request.state, "view_rate_limit", None)
    if current is None:
        return {"Retry-After": "60"}
    item, args = current
    headers = {"X-RateLimit-Limit": str(item.amount), "Retry-After": str(item.get_expiry())}
    try:
        reset, remaining = request.app.state.limiter.limiter.get_window_stats(item, *args)
    except Exception as exc:  # the storage's own errors (redis, memcached, ...): the window's length will do
        log.warning("rate limit storage unreadable for the 429 headers: %s", exc)
        return headers
    headers.update({"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(reset)),
                    "Retry-After": str(max(1, math.ceil(reset - time.time())))})
    return headers


def add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # loc/msg/type only: the offending input is not echoed back.
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 "error parsing the body" when the body is not even text (e.g. invalid UTF-8);
        # to a client that is invalid JSON like any other, so it gets the same 422 naming the body.
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            return JSONResponse({"detail": [{"loc": ["body"], "msg": f"invalid JSON: {exc.__cause__}",
                                             "type": "json_invalid"}]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": [_client_error(exc)]}, status_code=422)

    @app.exception_handler(IndexError_)
    async def index_unavailable(request: Request, exc: IndexError_) -> JSONResponse:
        return JSONResponse({"detail": f"index unavailable: {exc}"}, status_code=503)

    @app.exception_handler(RateLimitExceeded)
    async def rate_limited(request: Request, exc: RateLimitExceeded) -> Response:
        response = JSONResponse({"detail": f"rate limit exceeded: {exc.detail}"}, status_code=429,
                                headers=rate_limit_headers(request))
        return response

    @app.exception_handler(RedisError)
    async def sessions_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("session store error: %s", exc)
        return JSONResponse({"detail": "session store unavailable, try again shortly"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        request_id = getattr(request.state, "request_id", None)
        return JSONResponse({"detail": f"internal error (request id {request_id})"}, status_code=500)


# -- lifespan: load once per worker, watch for rebuilt indexes --------------------------------------------
def _settle_heap() -> None:
    """Move what is loaded now (model, index, catalogue) out of the garbage collector's sight.

    A full collection walks every tracked object, the loaded assistant's too: about 45 ms here, a pause that
    every request in flight waits out. Frozen objects are skipped (a full collection then takes well under
    1 ms); they are still freed by reference counting. After an index swap the heap is unfrozen, so that the
    old engine's reference cycles can be collected, and settled again.
    """
    gc.collect()
    gc.freeze()


async def _load(app: FastAPI, settings: Settings) -> None:
    try:
        app.state.assistant = await anyio.to_thread.run_sync(factory.load_assistant, settings)
        _settle_heap()
        log.info("ready: index %s", app.state.assistant.engine.index.path)
    except (DGMError, ValueError, OSError) as exc:
        app.state.not_ready = f"the index could not be loaded: {exc}"
        log.error("%s", app.state.not_ready)
    except Exception as exc:  # anything else must still show in /api/ready, not leave it "loading" forever
        app.state.not_ready = f"the assistant could not be loaded ({exc.__class__.__name__}: {exc})"
        log.exception("%s", app.state.not_ready)


async def _watch_index(app: FastAPI, settings: Settings, wake: asyncio.Event) -> None:
    """Swap in a rebuilt index: every ``watch_index_s`` seconds, or at once when woken (SIGHUP)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=settings.watch_index_s or None)
        wake.clear()
        assistant: Assistant | None = app.state.assistant
        if assistant is None:
            continue
        kwargs = factory.engine_kwargs(settings, reranker=assistant.engine.retriever.reranker)
        try:
            swapped = await anyio.to_thread.run_sync(partial(assistant.reload_if_changed, settings.index_dir,
                                                             **kwargs))
        except Exception as exc:  # a broken or half-removed build: keep serving the current index, retry
            log.warning("index reload failed, keeping %s: %s: %s", assistant.engine.index.path,
                        exc.__class__.__name__, exc)
            continue
        if swapped:
            app.state.metrics.reloads.inc()
            gc.unfreeze()  # the old engine, frozen with the rest, can be collected now
            _settle_heap()


def lifespan(settings: Settings, assistant: Assistant | None):
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        app.state.model_limiter = anyio.CapacityLimiter(settings.model_threads)
        tasks: list[asyncio.Task] = []
        if assistant is not None:
            app.state.assistant = assistant
        elif settings.workers > 1:
            # Workers share one listening socket and uvicorn starts accepting only after this startup: loading
            # here keeps a worker that is still loading from taking requests (and answering 503) while its
            # siblings are ready.
            await _load(app, settings)
        else:
            # One process: accept at once, so /api/health answers and /api/ready says "loading" meanwhile.
            tasks.append(asyncio.create_task(_load(app, settings)))
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        hup = False
        try:
            loop.add_signal_handler(signal.SIGHUP, wake.set)
            hup = True
        except (ValueError, RuntimeError, NotImplementedError, AttributeError):
            pass  # not the main thread (tests) or no SIGHUP on this platform: polling only
        if settings.watch_index_s > 0 or hup:
            tasks.append(asyncio.create_task(_watch_index(app, settings, wake)))
        try:
            yield
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    return run


# -- the factory ------------------------------------------------------------------------------------------
def settings_from_env() -> Settings:
    """The settings `serve` handed to its workers, else the environment (``DGM_*``)."""
    raw = os.environ.get(SETTINGS_ENV)
    return Settings.model_validate_json(raw) if raw else Settings()


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs with its files from the ``swagger-ui-bundle`` package (nothing from a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="DGM Assistant — API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon-32x32.png")


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """Assemble the service.

    Args:
        settings: the configuration; read from the environment when None (uvicorn's ``factory=True``).
        assistant: a ready assistant (tests share one); loaded in the lifespan when None.

    Returns:
        The FastAPI app. ``/api/ready`` answers 503 until the assistant is loaded.
    """
    settings = settings or settings_from_env()
    app = FastAPI(
        title="DGM Assistant",
        version="0.1.0",
        summary="Cited answers on Belgium's multilateral policy and the DGM directorate handling each topic.",
        lifespan=lifespan(settings, assistant),
        docs_url=None,  # served below from the swagger-ui-bundle package: no CDN, works offline
        redoc_url=None,
    )
    mount_docs(app)
    # Sessions in Redis mean several replicas: count the rate limit there too, in memory if Redis fails.
    # Rate-limit headers only on 429 answers (`rate_limit_headers`), not on every answer.
    limiter = Limiter(key_func=get_remote_address, headers_enabled=False, storage_uri=settings.session_url,
                      key_prefix="dgm-ratelimit", in_memory_fallback_enabled=bool(settings.session_url),
                      swallow_errors=True)
    registry = CollectorRegistry()
    app.state.settings = settings
    app.state.limiter = limiter
    app.state.assistant = None
    app.state.not_ready = LOADING
    app.state.metrics = AnswerMetrics(registry)
    app.state.feedback = FeedbackWriter(settings.feedback_path, settings.feedback_max_bytes)

    app.include_router(api_router(settings, limiter))
    app.include_router(static_router())
    add_exception_handlers(app)

    # Middleware runs outermost-last-added: request context -> CORS -> metrics -> body limit -> routes.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Request counts and latency histograms by route, method and exact status (422, 429 and 503 matter here).
    instrumentator = Instrumentator(registry=registry, excluded_handlers=["/metrics"], should_group_status_codes=False)
    instrumentator.add(metrics.requests(registry=registry))
    instrumentator.add(metrics.latency(registry=registry, buckets=LATENCY_BUCKETS_S))
    instrumentator.instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"], max_age=600)
    docs = ["/docs"]
    app.add_middleware(RequestContextMiddleware, csp=content_security_policy(settings.cors_origins),
                       docs_paths=docs)
    return app
