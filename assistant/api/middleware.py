"""Pure ASGI middleware of the service: request ids, access logs and security headers; a body size limit.

Pure ASGI (not ``BaseHTTPMiddleware``) so that bodies are counted as they stream in and responses are
never buffered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Iterable

from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import ACCESS_LOGGER

access_log = logging.getLogger(ACCESS_LOGGER)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def content_security_policy(connect_origins: Iterable[str] = ()) -> str:
    """The policy for our own HTML pages: nothing but this origin (plus the allowed API origins)."""
    connect = " ".join(["'self'", *connect_origins])
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            f"connect-src {connect}; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")


# Swagger UI at /docs (files served locally) is started by FastAPI with an inline script.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'self'; "
            "base-uri 'self'; form-action 'self'")


class RequestContextMiddleware:
    """Give every request an id (a sane incoming ``X-Request-ID`` or a new uuid4 hex), echo it, add the
    security headers, and write one JSON access-log line when the response is done."""

    def __init__(self, app: ASGIApp, csp: str, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.csp = csp
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Request.state reads scope["state"]; a per-request copy keeps the id from leaking across requests.
        scope["state"] = {**scope.get("state", {}), "request_id": request_id}
        path = scope.get("path", "")
        status = 500
        t0 = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = DOCS_CSP if path in self.docs_paths else self.csp
                app = scope.get("app")
                if app is not None and getattr(app.state, "draining", False):
                    # Stopping: no connection is kept alive, so none is idle (and closed under a client's
                    # next request) when the server stops accepting.
                    headers["Connection"] = "close"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %d", scope.get("method", ""), path, status,
                extra={"request_id": request_id, "method": scope.get("method", ""), "path": path,
                       "status": status, "duration_ms": round((time.perf_counter() - t0) * 1000, 3),
                       "client": client[0] if client else None})


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed (chunked) body passes the limit; FastAPI answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"body: the request body is larger than {limit} bytes")


class BodyTimeout(HTTPException):
    """Raised from ``receive`` when a body does not arrive in time; FastAPI answers 408."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(status_code=408, detail=f"body: the request body did not arrive within {timeout_s:g} s",
                         headers={"Connection": "close"})


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413: at once from Content-Length, else while counting the
    chunks of a streamed body; and bodies that take longer than ``timeout_s`` to arrive with 408 (a client
    trickling a body would otherwise hold a connection and a request slot for as long as it likes)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return

        received = 0
        started = False
        deadline: float | None = None

        async def counting_receive() -> Message:
            nonlocal received, deadline
            if self.timeout_s is None:
                message = await receive()
            else:
                # One deadline for the whole body, from the first read: a chunk every few seconds does not
                # buy more time.
                deadline = deadline or time.monotonic() + self.timeout_s
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    raise BodyTimeout(self.timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Raised outside FastAPI's body parsing (e.g. a plain Starlette route read the body).
            if started:
                raise
            await self._too_large(scope, receive, send)
        except BodyTimeout as exc:
            if started:
                raise
            await JSONResponse({"detail": exc.detail}, status_code=408, headers=exc.headers)(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"body: the request body is larger than {self.max_bytes} bytes"},
                                status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)
