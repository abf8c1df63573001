"""``/admin``: the web team's report and its CSV export, behind the token of the settings.

The token comes in an ``Authorization: Bearer`` or ``X-Admin-Token`` header, or through the login form,
which sets a cookie holding an HMAC of the token (never the token itself). The router exists only when a
token is set: without one ``/admin`` is a plain 404. Nothing here logs the token; the access log records
paths only.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from ..config import Settings
from ..insights import make_report, render_html, to_csv
from .ratelimit import rate_limit

COOKIE = "dgm_admin"
LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>DGM Assistant — web team</title>
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.4rem 0;font-size:1rem}
input,button{padding:.5rem}button{background:#1f5fa8;color:#fff;border:0;border-radius:.3rem}</style></head>
<body><h1>Web team's report</h1><form method="post" action="/admin/login">
<label for="token">Admin token</label><input id="token" name="token" type="password" autocomplete="current-password"
required><button type="submit">Open the report</button></form></body></html>"""


class Forbidden(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=403, detail="admin: wrong token")


def _cookie_value(token: str, issued: int) -> str:
    """The login cookie: when it was issued and a MAC of that time under the token (never the token itself),
    so it expires on the server's clock and a new token voids every cookie made with the old one."""
    mac = hmac.new(token.encode("utf-8"), f"dgm-admin-session.{issued}".encode("ascii"), hashlib.sha256)
    return f"{issued}.{mac.hexdigest()}"


def _cookie_valid(value: str, token: str, max_age_s: int, now: float) -> bool:
    issued, _, _ = value.partition(".")
    if not issued.isdigit() or not 0 <= now - int(issued) <= max_age_s:
        return False
    return hmac.compare_digest(value, _cookie_value(token, int(issued)))


def _presented(request: Request) -> tuple[str | None, str | None]:
    """(token from a header, cookie value), whichever the request carries."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-admin-token")
    return token, request.cookies.get(COOKIE)


def admin_router(settings: Settings) -> APIRouter:
    """The admin pages for ``settings.admin_token`` (which must be set)."""
    if not settings.admin_token:
        raise ValueError("admin_router needs settings.admin_token")
    secret = settings.admin_token
    max_age = settings.admin_session_s
    router = APIRouter(prefix="/admin", include_in_schema=False)

    def authorised(request: Request) -> bool:
        """True with the right token or a valid cookie; False with neither (an expired cookie, or one made with
        an earlier token, asks to log in again); 403 with a wrong token."""
        token, sent_cookie = _presented(request)
        if token:
            if hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8")):
                return True
            raise Forbidden()
        return sent_cookie is not None and _cookie_valid(sent_cookie, secret, max_age, time.time())

    def required(request: Request) -> None:
        if not authorised(request):
            raise HTTPException(status_code=401, detail="admin: a token is needed (Authorization: Bearer <token>, "
                                "X-Admin-Token, or the form at /admin)", headers={"WWW-Authenticate": "Bearer"})

    Days = Annotated[int | None, Query(ge=1, le=3650, description="The last N days only")]

    async def report_of(request: Request, days: int | None):
        assistant = request.app.state.assistant
        engine = assistant.engine if assistant is not None else None
        run = lambda: make_report(request.app.state.records, request.app.state.masker, engine, days,  # noqa: E731
                                  settings.report_max_topics, settings.report_examples)
        # The embedding of the declined questions is model work: it shares the questions' threads.
        return await anyio.to_thread.run_sync(run, limiter=request.app.state.model_limiter)

    @router.get("", response_class=HTMLResponse)
    async def page(request: Request, days: Days = None) -> Response:
        if not authorised(request):
            login_page = HTMLResponse(LOGIN_PAGE, status_code=401, headers={"Cache-Control": "no-store"})
            login_page.delete_cookie(COOKIE, path="/admin")
            return login_page
        report = await report_of(request, days)
        csv_url = "/admin/export.csv" + (f"?days={days}" if days else "")
        return HTMLResponse(render_html(report, csv_url=csv_url), headers={"Cache-Control": "no-store"})

    @router.post("/login", dependencies=[Depends(rate_limit)])
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        if not token:
            raise HTTPException(status_code=422, detail="token: the form needs the admin token")
        if not hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8")):
            raise Forbidden()
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(COOKIE, _cookie_value(secret, int(time.time())), httponly=True, samesite="strict",
                            path="/admin", secure=request.url.scheme == "https", max_age=max_age)
        return response

    @router.get("/export.csv", dependencies=[Depends(required)])
    async def export(request: Request, days: Days = None) -> Response:
        from datetime import UTC, datetime, timedelta

        since = datetime.now(UTC) - timedelta(days=days) if days else None
        rows = await anyio.to_thread.run_sync(request.app.state.records.rows, since)
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="dgm-questions.csv"',
                                 "Cache-Control": "no-store"})

    return router
