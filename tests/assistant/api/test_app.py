"""What the app factory assembles, over real HTTP: the OpenAPI schema and offline docs, metrics, CORS."""

from __future__ import annotations

import re

import httpx

from assistant.api import create_app
from tests.helpers import NATO, TIMEOUT, ask, serve_in_thread


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = {"/api/ask", "/api/feedback", "/api/directorates", "/api/health", "/api/ready"}
    assert paths <= set(spec["paths"])
    ask_schema = spec["components"]["schemas"]["AskRequest"]
    assert ask_schema["additionalProperties"] is False
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn." not in docs.text  # the Swagger UI files are served locally: the docs work offline
    js = client.get("/docs-static/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000


def test_metrics_count_requests_answers_and_abstentions(client: httpx.Client) -> None:
    ask(client, NATO)
    ask(client, "What is the best pizza recipe?")
    text = client.get("/metrics").text
    assert re.search(r'http_requests_total\{handler="/api/ask",method="POST",status="200"\} [1-9]', text)
    assert re.search(r'http_request_duration_seconds_bucket\{handler="/api/ask",le="0.5",method="POST",'
                     r'status="200"\} [1-9]', text)
    assert re.search(r'dgm_answers_total\{directorate="M1"\} [1-9]', text)
    assert re.search(r"^dgm_abstentions_total [1-9]", text, re.MULTILINE)


def test_cors_origins_are_allowed_and_in_the_csp(settings, assistant) -> None:
    origin = "https://www.example.org"
    app = create_app(settings.model_copy(update={"cors_origins": [origin], "watch_index_s": 0}),
                     assistant=assistant)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as c:
        pre = c.options("/api/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == origin
        r = c.post("/api/ask", json={"question": NATO}, headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == origin
        other = c.post("/api/ask", json={"question": NATO}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert f"connect-src 'self' {origin}" in c.get("/").headers["content-security-policy"]


def test_no_cors_by_default(client: httpx.Client) -> None:
    r = client.post("/api/ask", json={"question": NATO}, headers={"Origin": "https://www.example.org"})
    assert "access-control-allow-origin" not in r.headers
