"""Middleware over real HTTP: the body size limit, security headers, request ids and the JSON access log."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx

from tests.helpers import NATO


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    big = json.dumps({"question": "a" * 20_000}).encode()
    r = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "body" in r.json()["detail"]


def test_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):  # 40 KiB in 1 KiB chunks, no Content-Length
            yield b"a" * 1024
        yield b'"}'

    r = client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert "body" in r.json()["detail"]


def test_chunked_body_under_the_limit_is_accepted(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": '
        yield json.dumps(NATO).encode()
        yield b"}"

    r = client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text


def test_demo_page_and_widget_are_served_with_security_headers(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
                      "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'self'",
                      "base-uri 'self'", "form-action 'self'"):
        assert directive in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    js = client.get("/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["x-content-type-options"] == "nosniff"
    css = client.get("/widget.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == js.headers["cache-control"] == "no-cache"
    assert ":host" in css.text


def test_api_responses_carry_nosniff_and_no_csp(client: httpx.Client) -> None:
    r = client.get("/api/health")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" not in r.headers


def test_request_id_is_echoed_or_made(client: httpx.Client) -> None:
    mine = client.get("/api/health", headers={"X-Request-ID": "trace-123.abc"})
    assert mine.headers["x-request-id"] == "trace-123.abc"
    made = client.get("/api/health")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    insane = client.get("/api/health", headers={"X-Request-ID": "bad id <script>" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["x-request-id"])
    assert client.get("/api/nope").headers["x-request-id"]


def test_access_log_is_json_lines_with_the_request_id(client: httpx.Client, live_server) -> None:
    rid = f"logcheck{time.time_ns()}"
    client.get("/api/health", headers={"X-Request-ID": rid})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = live_server.log(tail=10**7).splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        mine = [e for e in entries if e.get("request_id") == rid]
        if mine:
            break
        time.sleep(0.1)
    assert len(mine) == 1, "no access log line for the request"
    entry = mine[0]
    assert {"ts", "level", "request_id", "method", "path", "status", "duration_ms", "client"} <= set(entry)
    assert entry["path"] == "/api/health" and entry["status"] == 200 and entry["method"] == "GET"
    assert entry["client"] == "127.0.0.1" and entry["duration_ms"] >= 0
