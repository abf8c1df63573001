"""The routes: the JSON API under ``/api`` and the widget's static files."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse

from ..config import Settings
from ..sessions import conversation_key
from .deps import AssistantDep, degraded
from .ratelimit import rate_limit
from .schemas import (
    AskRequest,
    AskResponse,
    DirectorateInfo,
    ErrorResponse,
    FeedbackRequest,
    HealthResponse,
    IndexInfo,
    ReadyResponse,
    WidgetConfig,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
WIDGET_LANGUAGES = ("en", "fr", "nl", "de")  # the widget's own texts, one file each; English is also built in

_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body too large"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "The index is not loaded (yet), or feedback could not be stored"},
}


def api_router(settings: Settings) -> APIRouter:
    """The JSON API; built per app because the defaults come from the settings."""
    router = APIRouter(prefix="/api", tags=["assistant"])
    limited = [Depends(rate_limit)]

    @router.post("/ask", response_model=AskResponse, responses=_ERRORS, dependencies=limited,
                 summary="Answer a question with citations and the directorate that handles it")
    async def ask(request: Request, response: Response, body: AskRequest, assistant: AssistantDep) -> AskResponse:
        recorder = request.app.state.recorder
        answer = await anyio.to_thread.run_sync(
            partial(assistant.ask, body.question, session_id=body.session_id, top_k=body.top_k or settings.top_k,
                    directorate=body.directorate, document=body.document, trace=recorder is not None),
            limiter=request.app.state.model_limiter)
        request.app.state.metrics.observe(answer)
        if recorder is not None:  # masked and written on the recorder's own thread: nothing here waits for it
            recorder.submit(recorder.record, answer, request.state.request_id)
        return AskResponse.from_answer(answer)

    @router.post("/feedback", status_code=204, response_class=Response, responses=_ERRORS, dependencies=limited,
                 summary="Record a thumbs up or down on an answer")
    async def feedback(request: Request, body: FeedbackRequest) -> Response:
        mask = request.app.state.masker.mask
        # Masked before it is stored: what a visitor typed may hold an e-mail address, a phone number ...
        # The conversation is stored by the same one-way key as the question records (joinable, and no live
        # id that could continue the conversation or read its turns back).
        record = {**body.model_dump(), "session_id": conversation_key(body.session_id) if body.session_id else "",
                  "question": mask(body.question), "answer": mask(body.answer),
                  "comment": mask(body.comment), "request_id": request.state.request_id}
        await anyio.to_thread.run_sync(request.app.state.feedback.write, record)
        recorder = request.app.state.recorder
        if recorder is not None:
            recorder.submit(recorder.rate, body.session_id, body.question, body.rating, body.comment)
        return Response(status_code=204)

    @router.get("/directorates", response_model=list[DirectorateInfo], responses={503: _ERRORS[503]},
                summary="The DGM's directorates and services, each with a starter question")
    async def directorates(assistant: AssistantDep) -> list[DirectorateInfo]:
        return [DirectorateInfo.from_directorate(d) for d in assistant.catalogue.directorates]

    @router.get("/config", response_model=WidgetConfig, summary="The limits a client needs: question length, top_k")
    async def config() -> WidgetConfig:
        return WidgetConfig(max_question_chars=settings.max_question_chars, top_k=settings.top_k,
                            max_top_k=settings.max_top_k)

    @router.get("/health", response_model=HealthResponse, summary="Liveness: the process answers")
    async def health() -> HealthResponse:
        return HealthResponse()

    @router.get("/ready", response_model=ReadyResponse, responses={503: _ERRORS[503]},
                summary="Readiness: the model and index are loaded; which index is in use")
    async def ready(request: Request, assistant: AssistantDep) -> ReadyResponse:
        if request.app.state.draining:  # SIGTERM: out of the load balancer first, requests still served
            raise HTTPException(status_code=503, detail="shutting down")
        index = assistant.engine.index
        m = index.manifest
        # A dependency down is reported, not failed on: the service still answers (see `degraded`), and a
        # 503 here would take every replica out of a load balancer at once when the shared Redis stops.
        down = await anyio.to_thread.run_sync(degraded, request.app, assistant)
        return ReadyResponse(status="degraded" if down else "ready", degraded=down,
                             index=IndexInfo(path=index.path.name, chunks=len(index.chunks),
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

    @router.get("/i18n/{lang}.json")
    async def widget_texts(lang: str) -> FileResponse:
        if lang not in WIDGET_LANGUAGES:
            raise HTTPException(status_code=404,
                                detail=f"the widget's texts exist in {', '.join(WIDGET_LANGUAGES)} only")
        return serve(f"i18n/{lang}.json", "application/json")

    return router
