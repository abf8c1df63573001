"""Errors over real HTTP: bad input is a clear 422 naming the field, never a 500; unknown routes; the 429 of
the rate limit."""

from __future__ import annotations

import time

import httpx
import pytest

from assistant.api import create_app
from tests.helpers import NATO, TIMEOUT, ask, serve_in_thread


def _locs(response: httpx.Response) -> list[list]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return [e["loc"] for e in detail]


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


@pytest.mark.parametrize("body", [b'{"question": ' + b"[" * 5000 + b"]" * 5000 + b"}", b"[" * 5000 + b"]" * 5000])
def test_deeply_nested_json_is_422_naming_the_body(client: httpx.Client, body: bytes) -> None:
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
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


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert client.get("/api/nope").status_code == 404
    assert client.get("/api/ask").status_code == 405


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
