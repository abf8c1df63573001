"""Feedback: appended over real HTTP with a timestamp, one line per record whatever the text; concurrent posts
and writers in several processes lose and tear nothing, and the file rotates by size."""

from __future__ import annotations

import asyncio
import re

import httpx

from assistant.sessions import conversation_key
from tests.helpers import NATO, ask


def _marker(prefix: str) -> str:
    """A unique marker of letters only: a long digit run in a comment is masked before it is stored."""
    import random
    import string

    return f"{prefix}-{''.join(random.choices(string.ascii_lowercase, k=16))}"


def test_feedback_is_appended_with_a_timestamp(client: httpx.Client, live_server) -> None:
    answer = ask(client, NATO).json()
    marker = _marker("feedback-test")
    r = client.post("/api/feedback", json={"session_id": answer["session_id"], "question": NATO,
                                           "answer": answer["answer"], "rating": "down", "comment": marker})
    assert r.status_code == 204 and r.content == b""
    mine = [x for x in live_server.feedback_records() if x.get("comment") == marker]
    assert len(mine) == 1
    assert mine[0]["rating"] == "down" and mine[0]["session_id"] == conversation_key(answer["session_id"])
    assert re.match(r"^\d{4}-\d{2}-\d{2}T", mine[0]["ts"])
    assert not live_server.feedback_path.exists()  # the database only: no JSON Lines file grows or rotates


def test_feedback_with_unicode_line_separators_stays_one_line(client: httpx.Client, live_server) -> None:
    marker = _marker("sep")
    comment = f"{marker} a\u2028b\x85c\x1cd é"
    r = client.post("/api/feedback", json={"session_id": "abcdefgh12", "question": "q\u2029?", "answer": "a",
                                           "rating": "up", "comment": comment})
    assert r.status_code == 204
    records = live_server.feedback_records()  # stored as sent, separators included
    assert [x["comment"] for x in records if (x.get("comment") or "").startswith(marker)] == [comment]


def test_concurrent_feedback_posts_lose_and_tear_nothing(live_server) -> None:
    run = _marker("concurrent")

    async def post_all() -> list[int]:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=live_server.url, timeout=30,
                                     limits=httpx.Limits(max_connections=16)) as client:
            async def one(i: int) -> int:
                async with sem:
                    r = await client.post("/api/feedback", json={
                        "session_id": "abcdefgh", "question": f"question {i} " + "é" * 50,
                        "answer": "answer " + "x" * 500, "rating": "up" if i % 2 else "down",
                        "comment": f"{run}:{i}"})
                    return r.status_code

            return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 120)

    assert asyncio.run(post_all()) == [204] * 200
    records = live_server.feedback_records()
    mine = sorted(int(r["comment"].split(":")[1]) for r in records
                  if str(r.get("comment", "")).startswith(run))
    assert mine == list(range(200))
