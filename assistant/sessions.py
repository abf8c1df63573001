"""Conversations: bounded session stores, in memory or in Redis (follow-ups are resolved in `question`).

Session ids are issued by the service only (128 random bits); an id a store does not know is never written
to, so a client cannot choose, guess or revive one. Both stores bound a conversation by turns, bytes and
time. The Redis store never waits long: every call has a short timeout, and after a failure Redis is left
alone for a moment (calls fail at once with `SessionsUnavailable`), then tried again, so a Redis that comes
back is used again without a restart.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Protocol

from cachetools import TTLCache

from .errors import SessionsUnavailable
from .models import Turn

log = logging.getLogger(__name__)

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_session_id() -> str:
    """128 bits from the OS's CSPRNG, as 32 hex digits."""
    return secrets.token_hex(16)


class SessionStore(Protocol):
    def history(self, session_id: str) -> list[Turn]: ...

    def append(self, session_id: str, turn: Turn) -> None: ...

    def clear(self, session_id: str) -> None: ...


def _encoded(turn: Turn, max_bytes: int) -> str:
    """A turn as JSON of at most ``max_bytes`` bytes: its texts are shortened if need be (the topic and the
    directorate, which follow-ups need most, are kept)."""
    data = turn.to_dict()
    raw = json.dumps(data, ensure_ascii=False)
    while len(raw.encode("utf-8")) > max_bytes:
        longest = max(("question", "rewritten"), key=lambda k: len(data.get(k) or ""))
        text = data.get(longest) or ""
        if not text:
            break
        data[longest] = text[: len(text) // 2]
        raw = json.dumps(data, ensure_ascii=False)
    return raw


class MemorySessionStore:
    """In-process sessions: at most ``max_sessions`` and ``max_bytes`` in all (the least recently used go
    first), each kept ``ttl_s`` after its last turn, with its last ``max_turns`` turns, each of at most
    ``max_session_bytes / max_turns`` bytes (so a conversation is at most ``max_session_bytes``)."""

    def __init__(self, max_sessions: int = 10_000, ttl_s: float = 3600, max_turns: int = 10,
                 max_bytes: int = 64 * 1024 * 1024, max_session_bytes: int = 32 * 1024) -> None:
        if min(max_sessions, max_turns, max_bytes, max_session_bytes) < 1 or ttl_s <= 0:
            raise ValueError(f"session bounds must be positive: max_sessions={max_sessions}, ttl_s={ttl_s}, "
                             f"max_turns={max_turns}, max_bytes={max_bytes}, max_session_bytes={max_session_bytes}")
        if max_session_bytes > max_bytes:
            raise ValueError(f"max_session_bytes ({max_session_bytes}) must not exceed max_bytes ({max_bytes})")
        # Sized in bytes: the cache evicts by the sum of its values' sizes, the count is checked beside it.
        self._cache: TTLCache[str, list[str]] = TTLCache(
            maxsize=max_bytes, ttl=ttl_s, getsizeof=lambda turns: sum(len(t.encode()) for t in turns) + 64)
        self._max_sessions = max_sessions
        self._max_turns = max_turns
        self._max_session_bytes = max_session_bytes
        self._lock = threading.Lock()

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            encoded = list(self._cache.get(session_id, ()))
        return [Turn.from_dict(json.loads(raw)) for raw in encoded]

    def append(self, session_id: str, turn: Turn) -> None:
        raw = _encoded(turn, self._max_session_bytes // self._max_turns)
        with self._lock:
            turns = [*self._cache.get(session_id, ()), raw]
            self._cache[session_id] = turns[-self._max_turns:]  # re-setting refreshes the TTL
            while len(self._cache) > self._max_sessions:
                self._cache.popitem()  # the least recently used

    def clear(self, session_id: str) -> None:
        with self._lock:
            self._cache.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    @property
    def bytes(self) -> int:
        with self._lock:
            return int(self._cache.currsize)


class Breaker:
    """Whether a remote store is worth calling: after a failure it is left alone for ``retry_s`` seconds
    (calls fail at once), then the next call tries it again. Thread-safe; cheap to ask."""

    def __init__(self, retry_s: float) -> None:
        if retry_s <= 0:
            raise ValueError(f"retry_s must be positive, got {retry_s}")
        self.retry_s = retry_s
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.failures = 0
        self.last_error: str | None = None
        # Told of each failed call and of each recovery (metrics); called outside the lock.
        self.on_failure: Callable[[], None] | None = None
        self.on_recovery: Callable[[], None] | None = None

    @property
    def available(self) -> bool:
        """False while the last failure is recent (the store is presumed down)."""
        return self.last_error is None

    def allow(self) -> bool:
        with self._lock:
            return time.monotonic() >= self._open_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self.last_error is None
            self._open_until = time.monotonic() + self.retry_s
            self.failures += 1
            self.last_error = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        if first:
            log.warning("redis unavailable, retrying every %.1f s: %s", self.retry_s, self.last_error)
        if self.on_failure is not None:
            self.on_failure()

    def succeeded(self) -> None:
        with self._lock:
            back = self.last_error is not None
            self._open_until = 0.0
            self.last_error = None
        if back:
            log.info("redis is reachable again")
            if self.on_recovery is not None:
                self.on_recovery()


_APPEND = """
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if n <= 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) else redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return n
"""


class RedisSessionStore:
    """Sessions in Redis (a list per session, trimmed and expiring), shared by several replicas.

    Each turn is at most ``max_session_bytes / max_turns`` bytes. A conversation of one turn expires after
    ``first_ttl_s`` (most are never continued), one that continues after ``ttl_s``. Every call is bounded
    by ``timeout_s``; failures raise `SessionsUnavailable`.
    """

    def __init__(self, url: str, ttl_s: int = 3600, max_turns: int = 10, prefix: str = "dgm:session:", *,
                 first_ttl_s: int | None = None, max_session_bytes: int = 32 * 1024, timeout_s: float = 0.25,
                 retry_s: float = 2.0) -> None:
        import redis

        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout_s,
                                       socket_connect_timeout=timeout_s, retry_on_timeout=False,
                                       retry=None, health_check_interval=0)
        self._ttl = int(ttl_s)
        self._first_ttl = int(min(first_ttl_s or ttl_s, ttl_s))
        self._max_turns = max_turns
        self._max_session_bytes = max_session_bytes
        self._prefix = prefix
        self.breaker = Breaker(retry_s)
        # One atomic round trip: a key never outlives its TTL, even if the connection drops half-way.
        self._append = self._r.register_script(_APPEND)

    def _call(self, fn):
        from redis.exceptions import RedisError

        if not self.breaker.allow():
            raise SessionsUnavailable(f"session store unavailable ({self.breaker.last_error})")
        try:
            result = fn()
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            raise SessionsUnavailable(f"session store unavailable ({self.breaker.last_error})") from exc
        self.breaker.succeeded()
        return result

    def ping(self) -> bool:
        return bool(self._call(self._r.ping))

    def history(self, session_id: str) -> list[Turn]:
        raw = self._call(lambda: self._r.lrange(self._prefix + session_id, 0, -1))
        return [Turn.from_dict(json.loads(x)) for x in raw]

    def append(self, session_id: str, turn: Turn) -> None:
        raw = _encoded(turn, self._max_session_bytes // self._max_turns)
        self._call(lambda: self._append([self._prefix + session_id],
                                        [raw, self._max_turns, self._first_ttl, self._ttl]))

    def clear(self, session_id: str) -> None:
        self._call(lambda: self._r.delete(self._prefix + session_id))


def make_store(url: str | None, max_sessions: int, ttl_s: int, max_turns: int, *, first_ttl_s: int | None = None,
               max_bytes: int = 64 * 1024 * 1024, max_session_bytes: int = 32 * 1024, timeout_s: float = 0.25,
               retry_s: float = 2.0) -> SessionStore:
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"session URL must start with redis://, rediss:// or unix://, got {url!r}")
        return RedisSessionStore(url, ttl_s=ttl_s, max_turns=max_turns, first_ttl_s=first_ttl_s,
                                 max_session_bytes=max_session_bytes, timeout_s=timeout_s, retry_s=retry_s)
    return MemorySessionStore(max_sessions=max_sessions, ttl_s=ttl_s, max_turns=max_turns, max_bytes=max_bytes,
                              max_session_bytes=max_session_bytes)
