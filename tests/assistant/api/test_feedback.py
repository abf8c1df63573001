"""Feedback over real HTTP: appended with a timestamp, one line per record whatever the text."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.helpers import NATO, ask


def test_feedback_is_appended_with_a_timestamp(client: httpx.Client, live_server) -> None:
    answer = ask(client, NATO).json()
    marker = f"feedback-test-{time.time_ns()}"
    r = client.post("/api/feedback", json={"session_id": answer["session_id"], "question": NATO,
                                           "answer": answer["answer"], "rating": "down", "comment": marker})
    assert r.status_code == 204 and r.content == b""
    lines = [json.loads(x) for x in live_server.feedback_path.read_text(encoding="utf-8").splitlines()]
    mine = [x for x in lines if x.get("comment") == marker]
    assert len(mine) == 1
    assert mine[0]["rating"] == "down" and mine[0]["session_id"] == answer["session_id"]
    assert re.match(r"^\d{4}-\d{2}-\d{2}T", mine[0]["ts"])


def test_feedback_with_unicode_line_separators_stays_one_line(client: httpx.Client, live_server) -> None:
    marker = f"sep-{time.time_ns()}"
    comment = f"{marker} a\u2028b\x85c\x1cd é"
    r = client.post("/api/feedback", json={"session_id": "abcdefgh12", "question": "q\u2029?", "answer": "a",
                                           "rating": "up", "comment": comment})
    assert r.status_code == 204
    # Every reader's notion of a line (str.splitlines splits on U+2028, NEL, ...) sees whole records.
    records = [json.loads(x) for x in live_server.feedback_path.read_text(encoding="utf-8").splitlines() if x]
    assert [x["comment"] for x in records if (x.get("comment") or "").startswith(marker)] == [comment]
