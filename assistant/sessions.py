"""Conversations: bounded session stores, in memory or in Redis (follow-ups are resolved in `question`).

Session ids are issued by the service only (128 random bits); an id a store does not know is never written
to, so a client cannot choose, guess or revive one. Both stores bound a conversation by turns, bytes and
time.

A first turn writes nothing: most questions are never followed up, and a key per question would grow the
store with the request rate. Its answer carries a *first-turn token* instead of a bare id: the id, the
turn's compact state (at most ``max_bytes`` of JSON, its texts shortened if need be), the time it was
issued and an HMAC of the service's secret (`FirstTurnTokens`). Only a follow-up stores the conversation,
both turns in one atomic call, under the id; any replica that shares the secret can read the token, so the
second turn may land anywhere. A token is refused when its MAC is wrong (the id was not issued by the
service) or it is older than the conversation TTL. Clients that keep sending the first answer's
``session_id`` are served too: a token whose id is stored already continues the stored conversation.

The Redis store never waits long: every call has a short timeout, and after a failure Redis is left
alone for a moment (calls fail at once with `SessionsUnavailable`), then tried again, so a Redis that comes
back is used again without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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

# A stored conversation's id, or a first-turn token: ``<32 hex>.<base64url JSON>.<base64url MAC>``.
TOKEN_STATE_CHARS = 2048  # room for the base64 of `FirstTurnTokens.max_bytes` (at most 1,500 bytes)
CLOCK_SKEW_S = 60  # seconds a token may seem to come from the future (replicas' clocks differ)
SESSION_ID_RE = re.compile(
    rf"^(?:[A-Za-z0-9_-]{{8,64}}|[0-9a-f]{{32}}\.[A-Za-z0-9_-]{{1,{TOKEN_STATE_CHARS}}}\.[A-Za-z0-9_-]{{22}})$")


def new_session_id() -> str:
    """128 bits from the OS's CSPRNG, as 32 hex digits."""
    return secrets.token_hex(16)


def session_key(session_id: str) -> str:
    """The conversation's id: a stored id as it is, the id part of a first-turn token."""
    return session_id.split(".", 1)[0]


def conversation_key(session_id: str) -> str:
    """What stores outside the session store keep of a conversation (feedback, question records): a one-way
    hash of its id, the same for a first answer's token and for the id a later turn gives; it cannot continue
    the conversation nor read its turns back."""
    return hashlib.sha256(session_key(session_id).encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FirstTurnTokens:
    """Issues and reads first-turn tokens (see the module's docstring).

    Args:
        secret: the key of the MAC; replicas that share it read each other's tokens. None: a random key of
            this process (a first turn then continues only on the process that answered it).
        ttl_s: a token older than this is refused (the conversation has expired).
        max_bytes: the most bytes of JSON a token carries (the turn's texts are shortened to fit).
    """

    def __init__(self, secret: str | None = None, ttl_s: float = 3600, max_bytes: int = 768) -> None:
        if ttl_s <= 0 or not 256 <= max_bytes <= 1500:
            raise ValueError(f"token bounds: ttl_s must be positive and max_bytes within 256..1500, got "
                             f"ttl_s={ttl_s}, max_bytes={max_bytes}")
        self._key = (secret.encode("utf-8") if secret else secrets.token_bytes(32))
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes

    def _mac(self, head: str) -> str:
        return _b64(hmac.new(self._key, head.encode("ascii"), hashlib.sha256).digest()[:16])

    def issue(self, key: str, turn: Turn) -> str:
        """The token of ``turn``, the first of conversation ``key``."""
        state = _encoded(turn, self.max_bytes - 24, extra={"t": int(time.time())})
        head = f"{key}.{_b64(state.encode('utf-8'))}"
        return f"{head}.{self._mac(head)}"

    def read(self, token: str) -> tuple[str, Turn] | None:
        """(id, first turn) of a token this service issued and that has not expired, else None."""
        head, _, mac = token.rpartition(".")
        if not head or "." not in head or not head.isascii() or not hmac.compare_digest(
                mac.encode("utf-8"), self._mac(head).encode("ascii")):
            return None
        key, _, state = head.partition(".")
        try:
            data = json.loads(_unb64(state))
            issued = float(data.pop("t"))
            turn = Turn.from_dict(data)
        except (ValueError, KeyError, TypeError):  # a MAC of our own over a state we cannot read: never
            return None
        # A replica whose clock runs a little ahead may have issued it: that is not a forged time.
        if not -CLOCK_SKEW_S <= time.time() - issued <= self.ttl_s:
            return None
        return key, turn


class SessionStore(Protocol):
    def history(self, session_id: str) -> list[Turn]: ...

    def append(self, session_id: str, turn: Turn, first: Turn | None = None) -> None:
        """Add ``turn``; a conversation not stored yet starts with ``first`` (a token's turn) when given."""
        ...

    def clear(self, session_id: str) -> None: ...


def _encoded(turn: Turn, max_bytes: int, extra: dict | None = None) -> str:
    """A turn as JSON of at most ``max_bytes`` bytes: its texts are shortened if need be (the directorate,
    which follow-ups need most, is kept; the topic is shortened last)."""
    data = {**turn.to_dict(), **(extra or {})}
    raw = json.dumps(data, ensure_ascii=False)
    while len(raw.encode("utf-8")) > max_bytes:
        longest = max(("question", "rewritten"), key=lambda k: len(data.get(k) or ""))
        if not data.get(longest):
            longest = "topic"
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
                 max_bytes: int = 64 * 1024 * 1024, max_session_bytes: int = 32 * 1024,
                 timer: Callable[[], float] = time.monotonic) -> None:
        if min(max_sessions, max_turns, max_bytes, max_session_bytes) < 1 or ttl_s <= 0:
            raise ValueError(f"session bounds must be positive: max_sessions={max_sessions}, ttl_s={ttl_s}, "
                             f"max_turns={max_turns}, max_bytes={max_bytes}, max_session_bytes={max_session_bytes}")
        if max_session_bytes > max_bytes:
            raise ValueError(f"max_session_bytes ({max_session_bytes}) must not exceed max_bytes ({max_bytes})")
        # Sized in bytes: the cache evicts by the sum of its values' sizes, the count is checked beside it.
        self._cache: TTLCache[str, list[str]] = TTLCache(
            maxsize=max_bytes, ttl=ttl_s, timer=timer,
            getsizeof=lambda turns: sum(len(t.encode()) for t in turns) + 64)
        self._max_sessions = max_sessions
        self._max_turns = max_turns
        self._max_session_bytes = max_session_bytes
        self._lock = threading.Lock()

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            encoded = list(self._cache.get(session_id, ()))
        return [Turn.from_dict(json.loads(raw)) for raw in encoded]

    def append(self, session_id: str, turn: Turn, first: Turn | None = None) -> None:
        per_turn = self._max_session_bytes // self._max_turns
        raw = _encoded(turn, per_turn)
        with self._lock:
            stored = self._cache.get(session_id)
            if stored is None and first is not None:
                stored = [_encoded(first, per_turn)]
            turns = [*(stored or ()), raw]
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


# ARGV: the turn, the most turns kept, the TTL, and the first turn (a token's) to start with when the key
# does not exist yet ('' if none): concurrent follow-ups of one token never store its first turn twice.
_APPEND = """
if ARGV[4] ~= '' and redis.call('EXISTS', KEYS[1]) == 0 then redis.call('RPUSH', KEYS[1], ARGV[4]) end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return n
"""


class RedisSessionStore:
    """Sessions in Redis (a list per session, trimmed and expiring), shared by several replicas.

    Only conversations that continue are stored (a first turn travels in its token). Each turn is at most
    ``max_session_bytes / max_turns`` bytes, a conversation its last ``max_turns`` turns, expiring
    ``ttl_s`` after its last turn. Every call is bounded by ``timeout_s``; failures raise
    `SessionsUnavailable`.
    """

    def __init__(self, url: str, ttl_s: int = 3600, max_turns: int = 10, prefix: str = "dgm:session:", *,
                 max_session_bytes: int = 32 * 1024, timeout_s: float = 0.25, retry_s: float = 2.0) -> None:
        import redis

        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout_s,
                                       socket_connect_timeout=timeout_s, retry_on_timeout=False,
                                       retry=None, health_check_interval=0)
        self._ttl = int(ttl_s)
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

    def append(self, session_id: str, turn: Turn, first: Turn | None = None) -> None:
        per_turn = self._max_session_bytes // self._max_turns
        raw = _encoded(turn, per_turn)
        start = _encoded(first, per_turn) if first is not None else ""
        self._call(lambda: self._append([self._prefix + session_id], [raw, self._max_turns, self._ttl, start]))

    def clear(self, session_id: str) -> None:
        self._call(lambda: self._r.delete(self._prefix + session_id))


def make_store(url: str | None, max_sessions: int, ttl_s: int, max_turns: int, *,
               max_bytes: int = 64 * 1024 * 1024, max_session_bytes: int = 32 * 1024, timeout_s: float = 0.25,
               retry_s: float = 2.0) -> SessionStore:
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"session URL must start with redis://, rediss:// or unix://, got {url!r}")
        return RedisSessionStore(url, ttl_s=ttl_s, max_turns=max_turns, max_session_bytes=max_session_bytes,
                                 timeout_s=timeout_s, retry_s=retry_s)
    return MemorySessionStore(max_sessions=max_sessions, ttl_s=ttl_s, max_turns=max_turns, max_bytes=max_bytes,
                              max_session_bytes=max_session_bytes)
