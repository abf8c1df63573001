"""The app factory: assembles routes, middleware, error mapping, metrics and the lifespan; nothing else.

The model and index load once per worker in the lifespan, off the event loop; model work runs in a bounded
thread pool, so health checks answer at once while questions are being answered.
"""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_fastapi_instrumentator import Instrumentator, metrics

from ..config import Settings
from ..insights import QuestionRecords, Recorder
from ..models import Answer
from ..pipeline import Assistant
from ..privacy import Masker
from .admin import admin_router
from .deps import settings_from_env
from .errors import add_exception_handlers
from .feedback import FeedbackStore
from .lifespan import lifespan
from .middleware import BodyLimitMiddleware, RequestContextMiddleware, content_security_policy
from .ratelimit import RateLimiter
from .routes import api_router, static_router

LOADING = "loading the model and the index"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AnswerMetrics:
    """Prometheus counters of what the assistant answered (request counts and latencies come from the
    instrumentator)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.answers = Counter("dgm_answers_total", "Answers given, by directorate ('none' if unrouted)",
                               ["directorate"], registry=registry)
        self.abstentions = Counter("dgm_abstentions_total", "Questions the assistant declined as not covered",
                                   registry=registry)
        self.reloads = Counter("dgm_index_reloads_total", "Rebuilt indexes swapped in", registry=registry)
        self.failures = Counter("dgm_dependency_failures_total",
                                "Failed calls to a dependency (the service answered without it)",
                                ["dependency"], registry=registry)
        self.up = Gauge("dgm_dependency_up", "1 while a dependency answers, 0 while it is presumed down",
                        ["dependency"], registry=registry, multiprocess_mode="min")
        self.not_restored = Counter("dgm_conversations_not_restored_total",
                                    "Follow-ups answered on their own: the conversation was unknown or unreadable",
                                    ["reason"], registry=registry)
        self.record_failures = Counter("dgm_record_failures_total",
                                       "Question records or ratings that could not be stored (the answer was given)",
                                       registry=registry)

    def watch(self, name: str, breaker) -> None:
        """Count the failures of a dependency behind ``breaker`` (a `sessions.Breaker`) and show its state."""
        self.up.labels(name).set(1)
        failures, up = self.failures.labels(name), self.up.labels(name)

        def failed() -> None:
            failures.inc()
            up.set(0)

        breaker.on_failure = failed
        breaker.on_recovery = lambda: up.set(1)

    def observe(self, answer: Answer) -> None:
        if answer.notice is not None:
            self.not_restored.labels("unavailable" if "could not be restored" in answer.notice else "unknown").inc()
        if answer.abstained:
            self.abstentions.inc()
        else:
            self.answers.labels(answer.directorate.code if answer.directorate else "none").inc()


def schema_with_codes(app: FastAPI) -> None:
    """/openapi.json lists the directorate codes a question may be restricted to (those of the loaded
    index's catalogue; the schema is remade when an index with other codes is swapped in)."""
    made: dict[tuple[str, ...], dict] = {}

    def openapi() -> dict:
        from fastapi.openapi.utils import get_openapi

        assistant = app.state.assistant
        codes = tuple(assistant.catalogue.codes) if assistant is not None else ()
        if codes not in made:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            field = schema["components"]["schemas"]["AskRequest"]["properties"]["directorate"]
            if codes:
                for branch in field.get("anyOf", [field]):
                    if branch.get("type") == "string":
                        branch["enum"] = list(codes)
                field["description"] += f" (one of {', '.join(codes)})"
            made.clear()
            made[codes] = schema
        return made[codes]

    app.openapi = openapi  # type: ignore[method-assign]


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
    schema_with_codes(app)
    # Sessions in Redis mean several replicas: count the rate limit there too, in memory while Redis fails.
    # Rate-limit headers only on 429 answers, not on every answer.
    limiter = RateLimiter(settings.rate_limit, settings.session_url, timeout_s=settings.redis_timeout_s,
                          retry_s=settings.redis_retry_s)
    registry = CollectorRegistry()
    app.state.settings = settings
    app.state.rate_limiter = limiter
    app.state.assistant = None
    app.state.not_ready = LOADING
    app.state.draining = False
    app.state.metrics = AnswerMetrics(registry)
    if limiter.shared:
        app.state.metrics.watch("redis-ratelimit", limiter.breaker)
    app.state.feedback = FeedbackStore(settings.database_url, settings.database_timeout_s)
    app.state.masker = Masker(min_digits=settings.mask_min_digits)
    app.state.records = QuestionRecords(app.state.feedback.engine, settings.retention_days)
    app.state.recorder = Recorder(
        app.state.records, app.state.masker, lambda: app.state.assistant.scope_weights,
        lambda: app.state.assistant.abstain_threshold,
        on_failure=app.state.metrics.record_failures.inc) if settings.record_questions else None

    app.include_router(api_router(settings))
    app.include_router(static_router())
    if settings.admin_token:  # no token, no page: /admin is then a plain 404
        app.include_router(admin_router(settings))
    add_exception_handlers(app)

    # Middleware runs outermost-last-added: request context -> CORS -> metrics -> body limit -> routes.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
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
