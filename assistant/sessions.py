"""Conversations: bounded session stores, in memory or in Redis (follow-ups are resolved in `question`)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Protocol

from cachetools import TTLCache

from .models import Turn

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionStore(Protocol):
    def history(self, session_id: str) -> list[Turn]: ...

    def append(self, session_id: str, turn: Turn) -> None: ...

    def clear(self, session_id: str) -> None: ...


class MemorySessionStore:
    """In-process sessions: at most ``max_sessions``, each kept ``ttl_s`` after its last turn,
    with its last ``max_turns`` turns."""

    def __init__(self, max_sessions: int = 10_000, ttl_s: float = 3600, max_turns: int = 10) -> None:
        if max_sessions < 1 or ttl_s <= 0 or max_turns < 1:
            raise ValueError(f"session bounds must be positive: max_sessions={max_sessions}, ttl_s={ttl_s}, "
                             f"max_turns={max_turns}")
        self._cache: TTLCache[str, list[Turn]] = TTLCache(maxsize=max_sessions, ttl=ttl_s)
        self._max_turns = max_turns
        self._lock = threading.Lock()

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            return list(self._cache.get(session_id, ()))

    def append(self, session_id: str, turn: Turn) -> None:
        with self._lock:
            turns = list(self._cache.get(session_id, ()))
            turns.append(turn)
            self._cache[session_id] = turns[-self._max_turns:]  # re-setting refreshes the TTL

    def clear(self, session_id: str) -> None:
        with self._lock:
            self._cache.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


class RedisSessionStore:
    """Sessions in Redis (a list per session, trimmed and expiring), shared by several replicas."""

    def __init__(self, url: str, ttl_s: int = 3600, max_turns: int = 10, prefix: str = "dgm:session:") -> None:
        import redis

        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self._ttl = int(ttl_s)
        self._max_turns = max_turns
        self._prefix = prefix

    def ping(self) -> bool:
        return bool(self._r.ping())

    def history(self, session_id: str) -> list[Turn]:
        return [Turn.from_dict(json.loads(x)) for x in self._r.lrange(self._prefix + session_id, 0, -1)]

    def append(self, session_id: str, turn: Turn) -> None:
        key = self._prefix + session_id
        pipe = self._r.pipeline()
        pipe.rpush(key, json.dumps(turn.to_dict()))
        pipe.ltrim(key, -self._max_turns, -1)
        pipe.expire(key, self._ttl)
        pipe.execute()

    def clear(self, session_id: str) -> None:
        self._r.delete(self._prefix + session_id)


def make_store(url: str | None, max_sessions: int, ttl_s: int, max_turns: int) -> SessionStore:
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"session URL must start with redis://, rediss:// or unix://, got {url!r}")
        return RedisSessionStore(url, ttl_s=ttl_s, max_turns=max_turns)
    return MemorySessionStore(max_sessions=max_sessions, ttl_s=ttl_s, max_turns=max_turns)
