"""Error mapping: the one place domain errors become HTTP statuses with a JSON ``detail``."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from slowapi.errors import RateLimitExceeded
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import IndexError_, InputError

log = logging.getLogger(__name__)


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
