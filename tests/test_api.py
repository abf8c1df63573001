"""The HTTP contract over real HTTP: `dgm-assistant serve` (the `live_server` fixture) and, where a test
needs its own configuration, the app factory served by uvicorn in a thread with the session's assistant."""

from __future__ import annotations

import gc
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from assistant.api import create_app
from assistant.sessions import SESSION_ID_RE
from index.embedders import PACKAGED_MODEL, embedder_name

NATO = "Which directorate deals with NATO?"
TIMEOUT = httpx.Timeout(30.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Serve an app with real uvicorn on a free 127.0.0.1 port; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=TIMEOUT) as c:
        yield c


def ask(client: httpx.Client, question: str, **fields) -> httpx.Response:
    return client.post("/api/ask", json={"question": question, **fields})


def _locs(response: httpx.Response) -> list[list]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return [e["loc"] for e in detail]


# -- the contract -------------------------------------------------------------------------------------------
def test_health_and_ready_report_the_index(client: httpx.Client) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = client.get("/api/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["index"]["chunks"] > 0
    assert body["index"]["created_at"] and body["index"]["path"]
    assert body["index"]["model"] == embedder_name(PACKAGED_MODEL, "onnx-int8")


def test_ask_returns_the_full_contract(client: httpx.Client) -> None:
    r = ask(client, NATO)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    expected = {"answer", "abstained", "citations", "directorate", "secondary_directorate", "rewritten_query",
                "session_id", "timings_ms", "suggestions", "in_scope", "is_followup"}
    assert expected <= set(body)
    assert isinstance(body["answer"], str) and body["answer"]
    assert body["abstained"] is False
    assert SESSION_ID_RE.match(body["session_id"])
    assert body["rewritten_query"] == NATO and body["is_followup"] is False
    assert 0.0 <= body["in_scope"] <= 1.0 and isinstance(body["suggestions"], list)
    assert body["timings_ms"] and all(isinstance(v, int | float) for v in body["timings_ms"].values())
    assert 1 <= len(body["citations"]) <= 5
    for i, c in enumerate(body["citations"], start=1):
        assert c["n"] == i
        assert {"id", "title", "section", "source", "text", "score", "doc_id", "start", "end"} <= set(c)
        assert c["text"] and c["doc_id"] and isinstance(c["score"], float)
        assert 0 <= c["start"] < c["end"]
    d = body["directorate"]
    assert d["code"] == "M1" and d["name"] and 0.0 <= d["confidence"] <= 1.0
    assert d["evidence_id"] in {c["id"] for c in body["citations"]}
    assert f"[{body['citations'][0]['n']}]" in body["answer"]


def test_three_turn_conversation_over_http(client: httpx.Client) -> None:
    first = ask(client, NATO).json()
    assert first["directorate"]["code"] == "M1"
    sid = first["session_id"]

    second = ask(client, "What about cyber?", session_id=sid).json()
    assert second["session_id"] == sid and second["is_followup"] is True
    assert "cyber" in second["rewritten_query"].lower()
    assert second["directorate"]["code"] == "M4"

    third = ask(client, "Does it also deal with space?", session_id=sid).json()
    assert third["is_followup"] is True and third["directorate"]["code"] == "M4"
    assert "M4" in third["rewritten_query"] or "International Governance" in third["rewritten_query"]


def test_without_session_id_each_question_starts_a_conversation(client: httpx.Client) -> None:
    a = ask(client, NATO).json()["session_id"]
    b = ask(client, NATO).json()["session_id"]
    assert a != b
    follow = ask(client, "What about cyber?").json()  # no session: not read as a follow-up of anything
    assert follow["is_followup"] is False


def test_an_unknown_session_id_starts_a_new_conversation(client: httpx.Client) -> None:
    sid = "client-chosen_id-0001"  # ids are the server's: one it never issued is not taken up
    body = ask(client, NATO, session_id=sid).json()
    assert body["session_id"] != sid and re.fullmatch(r"[0-9a-f]{32}", body["session_id"])
    assert "expired or is unknown" in body["notice"]
    assert ask(client, NATO).json()["notice"] is None


def test_directorate_filter_and_top_k(client: httpx.Client) -> None:
    r = ask(client, "What does Belgium do on climate?", directorate="MD8", top_k=2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["directorate"]["code"] == "MD8"
    assert len(body["citations"]) <= 2


def test_out_of_scope_question_abstains(client: httpx.Client) -> None:
    body = ask(client, "What is the best pizza recipe?").json()
    assert body["abstained"] is True
    assert body["citations"] == [] and body["directorate"] is None


def test_directorates_catalogue_with_starters(client: httpx.Client) -> None:
    r = client.get("/api/directorates")
    assert r.status_code == 200
    units = r.json()
    codes = [u["code"] for u in units]
    assert len(codes) == len(set(codes)) == 10 and {"M1", "M4", "M0.0"} <= set(codes)
    for u in units:
        assert {"code", "name", "short_name", "remit", "kind", "aliases", "keywords", "shared_with",
                "starter"} <= set(u)
        assert u["starter"].endswith("?") and len(u["starter"]) > 10
    m1 = next(u for u in units if u["code"] == "M1")
    assert "NATO" in m1["starter"]


def test_starters_are_answered_by_their_unit(client: httpx.Client) -> None:
    for unit in client.get("/api/directorates").json():
        body = ask(client, unit["starter"]).json()
        assert body["abstained"] is False, unit["starter"]
        assert body["directorate"]["code"] == unit["code"], unit["starter"]


def test_feedback_is_appended_with_a_timestamp(client: httpx.Client, live_server) -> None:
    answer = ask(client, NATO).json()
    marker = f"feedback-test-{time.time_ns()}"
    r = client.post("/api/feedback", json={"session_id": answer["session_id"], "question": NATO,
                                           "answer": answer["answer"], "rating": "down", "comment": marker})
    assert r.status_code == 204 and r.content == b""
    mine = [x for x in live_server.feedback_records() if x.get("comment") == marker]
    assert len(mine) == 1
    assert mine[0]["rating"] == "down" and mine[0]["session_id"] == answer["session_id"]
    assert re.match(r"^\d{4}-\d{2}-\d{2}T", mine[0]["ts"])


def test_feedback_with_unicode_line_separators_stays_one_line(client: httpx.Client, live_server) -> None:
    marker = f"sep-{time.time_ns()}"
    comment = f"{marker} a\u2028b\x85c\x1cd é"
    r = client.post("/api/feedback", json={"session_id": "abcdefgh12", "question": "q\u2029?", "answer": "a",
                                           "rating": "up", "comment": comment})
    assert r.status_code == 204
    records = live_server.feedback_records()  # stored as sent, separators included
    assert [x["comment"] for x in records if (x.get("comment") or "").startswith(marker)] == [comment]


# -- bad input: a clear 422 naming the field, never a 500 ---------------------------------------------------
ASK_BAD = [
    ({"question": ""}, "question"),
    ({"question": "   \n\t  "}, "question"),
    ({"question": "\x00\x07\x1b"}, "question"),
    ({"question": "a" * 1001}, "question"),
    ({"question": "x " * 600}, "question"),
    ({"question": 42}, "question"),
    ({"question": None}, "question"),
    ({}, "question"),
    ({"question": "hi", "session_id": "bad id!"}, "session_id"),
    ({"question": "hi", "session_id": "short"}, "session_id"),
    ({"question": "hi", "session_id": "x" * 65}, "session_id"),
    ({"question": "hi", "session_id": 12345678}, "session_id"),
    ({"question": "hi", "top_k": 0}, "top_k"),
    ({"question": "hi", "top_k": 21}, "top_k"),
    ({"question": "hi", "top_k": -3}, "top_k"),
    ({"question": "hi", "top_k": "5"}, "top_k"),
    ({"question": "hi", "top_k": 2.5}, "top_k"),
    ({"question": "hi", "directorate": "M99"}, "directorate"),
    ({"question": "hi", "directorate": ""}, "directorate"),
    ({"question": "hi", "document": "no-such-document"}, "document"),
    ({"question": "hi", "colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("body", "field"), ASK_BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(ASK_BAD)])
def test_bad_ask_is_422_naming_the_field(client: httpx.Client, body: dict, field: str) -> None:
    r = client.post("/api/ask", json=body)
    assert r.status_code == 422, r.text
    assert ["body", field] in _locs(r), r.text
    for e in r.json()["detail"]:
        assert e["msg"] and e["type"]


FEEDBACK_OK = {"session_id": "abcdefgh", "question": "q", "answer": "a", "rating": "up"}
FEEDBACK_BAD = [
    ({**FEEDBACK_OK, "rating": "meh"}, "rating"),
    ({k: v for k, v in FEEDBACK_OK.items() if k != "answer"}, "answer"),
    ({**FEEDBACK_OK, "session_id": "not valid!"}, "session_id"),
    ({**FEEDBACK_OK, "comment": 5}, "comment"),
    ({**FEEDBACK_OK, "extra": True}, "extra"),
]


@pytest.mark.parametrize(("body", "field"), FEEDBACK_BAD, ids=[f for _, f in FEEDBACK_BAD])
def test_bad_feedback_is_422_naming_the_field(client: httpx.Client, body: dict, field: str) -> None:
    r = client.post("/api/feedback", json=body)
    assert r.status_code == 422, r.text
    assert ["body", field] in _locs(r)


@pytest.mark.parametrize("raw", [b'{"question": ', b"not json at all", b'{"question": "hi",}', b"\xff\xfe",
                                 b'\xc3B\x00\x15\x02<\xc3B\xff\xfe', b'{"question": "\xc3\x28"}'])
def test_invalid_json_is_422_naming_the_body(client: httpx.Client, raw: bytes) -> None:
    r = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert all(loc[0] == "body" for loc in _locs(r))


@pytest.mark.parametrize("body", [b'["a list"]', b'"a string"', b"null", b"17"])
def test_json_that_is_not_an_object_is_422(client: httpx.Client, body: bytes) -> None:
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert all(loc[0] == "body" for loc in _locs(r))


def test_non_json_content_type_is_422(client: httpx.Client) -> None:
    r = client.post("/api/ask", content=b"question=hi",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422, r.text


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


def test_control_characters_and_markup_are_plain_text(client: httpx.Client) -> None:
    q = "<script>alert(1)</script>\x00 Which directorate deals\x07 with <b>NATO</b>?\x1b"
    r = ask(client, q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/json")
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in body["rewritten_query"] + body["answer"])
    assert "<script>" in body["rewritten_query"]  # kept as text, never interpreted or stripped into code


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert client.get("/api/nope").status_code == 404
    assert client.get("/api/ask").status_code == 405


# -- headers, static files, docs, metrics -------------------------------------------------------------------
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


def test_widget_texts_are_served_per_language(client: httpx.Client) -> None:
    en = client.get("/i18n/en.json")
    assert en.status_code == 200 and en.headers["content-type"].startswith("application/json")
    assert en.headers["cache-control"] == "no-cache"
    english = en.json()

    def placeholders(texts: dict[str, str]) -> dict[str, list[str]]:
        return {key: sorted(re.findall(r"\{\w+\}", text)) for key, text in texts.items()}

    for lang in ("fr", "nl", "de"):
        texts = client.get(f"/i18n/{lang}.json").json()
        assert placeholders(texts) == placeholders(english), lang  # the same keys, each with the same {names}
        assert texts["send"] != english["send"], lang
    # widget.js carries the English built in (it never waits for it): the same texts as en.json.
    built_in = re.search(r"var EN = (\{.*?\n  \});", client.get("/widget.js").text, re.DOTALL)
    assert built_in and json.loads(re.sub(r'"\s*\+\s*"', "", built_in.group(1))) == english
    for lang in ("xx", "EN", "en-GB"):
        r = client.get(f"/i18n/{lang}.json")
        assert r.status_code == 404 and "en, fr, nl, de" in r.json()["detail"]


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


# -- configurations of their own: the app factory in a thread, with the session's assistant -----------------
def test_rate_limit_answers_429_with_retry_after(settings, assistant) -> None:
    limited = settings.model_copy(update={"rate_limit": "3/minute", "watch_index_s": 0})
    app = create_app(limited, assistant=assistant)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as c:
        answers = [ask(c, NATO) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert "x-ratelimit-limit" not in answers[0].headers  # only refusals carry the headers
        r = ask(c, NATO)
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= 60  # the rest of the minute's window
        assert r.headers["x-ratelimit-limit"] == "3" and r.headers["x-ratelimit-remaining"] == "0"
        assert int(r.headers["x-ratelimit-reset"]) >= int(time.time())
        assert "rate limit" in r.json()["detail"]
        assert c.get("/api/health").status_code == 200  # only questions and feedback are limited


def test_ready_is_503_until_the_index_loads(settings, tmp_path) -> None:
    broken = settings.model_copy(update={"index_dir": tmp_path / "no-index", "watch_index_s": 0})
    with serve_in_thread(create_app(broken)) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as c:
        assert c.get("/api/health").status_code == 200
        deadline = time.monotonic() + 60
        while True:
            r = c.get("/api/ready")
            assert r.status_code == 503
            if "dgm-assistant build" in r.json()["detail"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "dgm-assistant build" in r.json()["detail"]  # the reason names the fix
        q = ask(c, NATO)
        assert q.status_code == 503 and "dgm-assistant build" in q.json()["detail"]
        assert c.get("/api/directorates").status_code == 503


def test_a_loaded_index_is_kept_out_of_full_garbage_collections(settings, built_index) -> None:
    """A full collection walked the whole loaded assistant (a pause of 45-110 ms that every request in flight
    waited out, seen under load); the service freezes what it loaded, so a full collection skips it."""
    gc.unfreeze()
    try:
        with serve_in_thread(create_app(settings.model_copy(update={"watch_index_s": 0}))) as url, \
                httpx.Client(base_url=url, timeout=TIMEOUT) as c:
            deadline = time.monotonic() + 60
            while c.get("/api/ready").status_code != 200:
                assert time.monotonic() < deadline, "the index did not load"
                time.sleep(0.1)
            assert gc.get_freeze_count() > 10_000
            assert ask(c, NATO).status_code == 200
    finally:
        gc.unfreeze()  # this test process shares its heap with the other tests


def test_missing_demo_page_is_404(settings, assistant, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("assistant.api.routes.STATIC_DIR", tmp_path)
    app = create_app(settings.model_copy(update={"watch_index_s": 0}), assistant=assistant)
    with serve_in_thread(app) as url:
        assert httpx.get(url + "/").status_code == 404
        assert httpx.get(url + "/widget.js").status_code == 404
        assert httpx.get(url + "/widget.css").status_code == 404
        assert httpx.get(url + "/i18n/en.json").status_code == 404


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
