"""Conversation stores: the in-memory store is bounded; with Redis, two replicas share a conversation."""

from __future__ import annotations

import httpx
import pytest

from assistant.models import Turn
from assistant.sessions import MemorySessionStore, session_key
from tests.helpers import NATO

pytestmark = pytest.mark.slow


def test_memory_sessions_are_bounded():
    store = MemorySessionStore(max_sessions=2, ttl_s=60, max_turns=3)
    for i in range(5):
        store.append("s1", Turn(f"q{i}", f"q{i}", "t", None, False))
    assert [t.question for t in store.history("s1")] == ["q2", "q3", "q4"]
    store.append("s2", Turn("a", "a", "t", None, False))
    store.append("s3", Turn("b", "b", "t", None, False))
    assert len(store) == 2
    with pytest.raises(ValueError):
        MemorySessionStore(max_sessions=0)


@pytest.mark.slow
@pytest.mark.redis
def test_two_replicas_share_a_conversation_through_redis(spawn_service, redis_url: str) -> None:
    env = {"DGM_SESSION_URL": redis_url, "DGM_SESSION_SECRET": "replicas-share-this-secret-of-32-chars"}
    a = spawn_service(env=env, wait=False)
    b = spawn_service(env=env, wait=False)
    a.wait_ready(120)
    b.wait_ready(120)
    with httpx.Client(timeout=30) as client:
        first = client.post(a.url + "/api/ask", json={"question": NATO}).json()
        assert first["directorate"]["code"] == "M1"
        sid = first["session_id"]

        second = client.post(b.url + "/api/ask",
                             json={"question": "And who handles that?", "session_id": sid})
        assert second.status_code == 200, second.text
        body = second.json()
        assert body["is_followup"] is True and "NATO" in body["rewritten_query"]
        assert body["directorate"]["code"] == "M1"

        third = client.post(a.url + "/api/ask",
                            json={"question": "What about cyber?", "session_id": sid}).json()
        assert third["is_followup"] is True and third["directorate"]["code"] == "M4"

        alone = client.post(b.url + "/api/ask", json={"question": "And who handles that?"}).json()
        assert alone["is_followup"] is False  # without the session there is nothing to follow up

    import redis

    r = redis.Redis.from_url(redis_url)
    assert r.llen(f"dgm:session:{session_key(sid)}") == 3
    r.close()
