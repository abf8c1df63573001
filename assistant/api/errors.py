"""Error mapping: the one place domain errors become HTTP statuses with a JSON ``detail``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import FeedbackUnavailable, IndexError_, InputError
from .ratelimit import RateLimited

log = logging.getLogger(__name__)


def _client_error(exc: InputError) -> dict[str, Any]:
    return {"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}


def add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # loc/msg/type only: the offending input is not echoed back.
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 "error parsing the body" when the body is not even text (e.g. invalid UTF-8) or
        # nests deeper than the JSON parser recurses (RecursionError); to a client that is invalid JSON like
        # any other, so it gets the same 422 naming the body.
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, ValueError | RecursionError):
            why = "nested too deeply" if isinstance(cause, RecursionError) else str(cause)
            return JSONResponse({"detail": [{"loc": ["body"], "msg": f"invalid JSON: {why}",
                                             "type": "json_invalid"}]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": [_client_error(exc)]}, status_code=422)

    @app.exception_handler(IndexError_)
    async def index_unavailable(request: Request, exc: IndexError_) -> JSONResponse:
        return JSONResponse({"detail": f"index unavailable: {exc}"}, status_code=503)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        return JSONResponse({"detail": f"rate limit exceeded: {exc.limit}"}, status_code=429, headers=exc.headers)

    @app.exception_handler(FeedbackUnavailable)
    async def feedback_unavailable(request: Request, exc: FeedbackUnavailable) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(RedisError)
    async def sessions_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("session store error: %s", exc)
        return JSONResponse({"detail": "session store unavailable, try again shortly"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        request_id = getattr(request.state, "request_id", None)
        return JSONResponse({"detail": f"internal error (request id {request_id})"}, status_code=500)
