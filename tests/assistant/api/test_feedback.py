"""Feedback: appended over real HTTP with a timestamp, one line per record whatever the text; concurrent posts
and writers in several processes lose and tear nothing, and the file rotates by size."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.api.feedback import FeedbackWriter
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


def test_concurrent_feedback_posts_lose_and_tear_nothing(live_server) -> None:
    run = f"concurrent-{time.time_ns()}"

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
    lines = live_server.feedback_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line is whole JSON
    mine = sorted(int(r["comment"].split(":")[1]) for r in records
                  if str(r.get("comment", "")).startswith(run))
    assert mine == list(range(200))


_WRITER_SCRIPT = """
import sys, threading
from pathlib import Path
from assistant.api.feedback import FeedbackWriter
w = FeedbackWriter(Path(sys.argv[1]), int(sys.argv[2]))
def run(t):
    for i in range(25):
        w.write({"proc": int(sys.argv[3]), "thread": t, "i": i, "pad": "x" * 100})
threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_feedback_writer_across_processes_rotates_without_loss(tmp_path: Path) -> None:
    path, max_bytes = tmp_path / "fb" / "feedback.jsonl", 4096
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER_SCRIPT, str(path), str(max_bytes), str(p)])
             for p in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    writer = FeedbackWriter(path, max_bytes)
    files = [*reversed(writer.rotated()), path]  # oldest first
    assert len(files) > 5, "expected several rotations"
    records = []
    for f in files:
        assert f.stat().st_size <= max_bytes
        records += [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 * 4 * 25
    assert len({(r["proc"], r["thread"], r["i"]) for r in records}) == 400
    for p in range(4):  # oldest-to-newest order holds within each writer thread
        for t in range(4):
            assert [r["i"] for r in records if (r["proc"], r["thread"]) == (p, t)] == list(range(25))
    assert all(r["ts"] for r in records)


def test_feedback_writer_rejects_a_bad_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        FeedbackWriter(tmp_path / "f.jsonl", 0)
