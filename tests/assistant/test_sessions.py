"""Conversation stores: the in-memory store is bounded."""

from __future__ import annotations

import pytest

from assistant.models import Turn
from assistant.sessions import MemorySessionStore

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
