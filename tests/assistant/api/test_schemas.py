"""Request and response bodies: the full contract of /api/ask, and property-based tests of the whole schema.

schemathesis generates requests from /openapi.json of the running service (valid and invalid ones) and checks
there is never a 5xx and every response matches the documented schema, status codes and content types.
Bounded: at most 30 examples per operation and mode, no shrinking.

schemathesis' lazy pytest loader (``from_fixture``) does not work with pytest 9, so the schema is loaded in
the test from the `live_server` fixture and each operation's Hypothesis strategy is driven directly.
"""

from __future__ import annotations

import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.sessions import SESSION_ID_RE
from tests.helpers import NATO, ask


def test_the_schema_lists_the_directorate_codes(client: httpx.Client) -> None:
    codes = [d["code"] for d in client.get("/api/directorates").json()]
    field = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]["directorate"]
    assert codes and [b["enum"] for b in field["anyOf"] if b.get("type") == "string"] == [codes]
    assert all(code in field["description"] for code in codes)


def test_ask_returns_the_full_contract(client: httpx.Client) -> None:
    r = ask(client, NATO)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    expected = {"answer", "abstained", "citations", "related", "directorate", "secondary_directorate",
                "rewritten_query", "session_id", "timings_ms", "suggestions", "in_scope", "is_followup"}
    assert expected <= set(body)
    assert isinstance(body["answer"], str) and body["answer"]
    assert body["abstained"] is False
    assert SESSION_ID_RE.match(body["session_id"])
    assert body["rewritten_query"] == NATO and body["is_followup"] is False
    assert 0.0 <= body["in_scope"] <= 1.0 and isinstance(body["suggestions"], list)
    assert body["timings_ms"] and all(isinstance(v, int | float) for v in body["timings_ms"].values())
    assert 1 <= len(body["citations"]) <= 5
    passage_fields = {"id", "title", "section", "source", "text", "score", "doc_id", "start", "end", "url", "link",
                      "rank", "twins"}
    for i, c in enumerate(body["citations"], start=1):
        assert c["n"] == i and c["role"] in ("answer", "remit")
        assert set(c) == passage_fields | {"n", "role"}
        assert c["text"] and c["doc_id"] and isinstance(c["score"], float)
        assert 0 <= c["start"] < c["end"]
        assert isinstance(c["twins"], dict)  # the page in other languages (none in the shipped corpus)
    # The other passages retrieved (top_k in all, 5 by default), best first, apart from the citations.
    assert len(body["citations"]) + len(body["related"]) == 5
    assert all(set(p) == passage_fields for p in body["related"])
    assert sorted(p["rank"] for p in body["citations"] + body["related"]) == [1, 2, 3, 4, 5]
    assert [p["rank"] for p in body["related"]] == sorted(p["rank"] for p in body["related"])
    assert not {p["id"] for p in body["related"]} & {c["id"] for c in body["citations"]}
    # Every citation is referred to in the answer.
    assert all(f"[{c['n']}]" in body["answer"] for c in body["citations"])
    d = body["directorate"]
    assert d["code"] == "M1" and d["name"] and 0.0 <= d["confidence"] <= 1.0
    assert d["evidence_id"] in {c["id"] for c in body["citations"] if c["role"] == "remit"}
    assert f"[{body['citations'][0]['n']}]" in body["answer"]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXPECTED = {"POST /api/ask", "POST /api/feedback", "GET /api/directorates", "GET /api/config", "GET /api/health",
            "GET /api/ready"}
MAX_EXAMPLES = 30
TIME_BOUND_S = 240


@pytest.mark.slow
@pytest.mark.timeout(TIME_BOUND_S + 60)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_api_never_errors_and_matches_its_schema(live_server, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(live_server.url + "/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == EXPECTED
    deadline = time.monotonic() + TIME_BOUND_S
    tested = 0
    for op in operations:
        has_input = bool(op.body) or any(True for _ in op.iter_parameters())
        if mode is GenerationMode.NEGATIVE and not has_input:
            continue  # nothing to make invalid

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=False,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            assert time.monotonic() < deadline, f"schemathesis run exceeded {TIME_BOUND_S} s"
            case.call_and_validate(base_url=live_server.url, timeout=30, checks=CHECKS)

        check()
        tested += 1
    assert tested >= 2
