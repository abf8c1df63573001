"""The per-client rate limit, counted with the `limits` library: in Redis when sessions are (so replicas
share the count), in memory otherwise, and in memory while Redis is down.

Async all the way: the Redis call runs on the event loop with a timeout, never blocking it (a blocking
client there would freeze every request, /api/health included, for as long as Redis does not answer).
After a failure Redis is left alone for ``retry_s`` seconds, then tried again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from ..sessions import Breaker

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """A client went over one of its limits (``limit``); ``headers``: the 429 answer's."""

    def __init__(self, limit: str, headers: dict[str, str]) -> None:
        super().__init__(limit)
        self.limit = limit
        self.headers = headers


def async_redis_uri(url: str) -> str:
    """The `limits` async URI of a redis://, rediss:// or unix:// URL."""
    if url.startswith("unix://"):
        return "async+redis+unix://" + url[len("unix://"):]
    return "async+" + url


class RateLimiter:
    """Fixed windows per client address, e.g. ``"120/minute"`` (several separated by ``;``).

    Args:
        limit: the limits, in the `limits` library's syntax.
        redis_url: count in this Redis (shared by replicas); memory only when None.
        timeout_s: the longest a Redis call may take before the memory count is used.
        retry_s: after a Redis failure, seconds before it is tried again.
    """

    def __init__(self, limit: str, redis_url: str | None = None, timeout_s: float = 0.25, retry_s: float = 2.0,
                 prefix: str = "dgm-ratelimit") -> None:
        self.items: list[RateLimitItem] = parse_many(limit)
        if not self.items:
            raise ValueError(f"no rate limit in {limit!r}")
        self.timeout_s = timeout_s
        self._memory = FixedWindowRateLimiter(MemoryStorage())
        self._shared: FixedWindowRateLimiter | None = None
        self.breaker = Breaker(retry_s)
        if redis_url:
            storage = RedisStorage(async_redis_uri(redis_url), implementation="redispy", key_prefix=prefix,
                                   socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
            self._shared = FixedWindowRateLimiter(storage)

    @property
    def shared(self) -> bool:
        """Whether a shared (Redis) count is configured."""
        return self._shared is not None

    async def _call(self, method: str, *args):
        """``method`` of the shared limiter within the timeout, else of the memory one."""
        if self._shared is not None and self.breaker.allow():
            try:
                result = await asyncio.wait_for(getattr(self._shared, method)(*args), self.timeout_s)
            except Exception as exc:  # the storage's own errors (redis-py's, timeouts, refused connections)
                self.breaker.failed(exc)
            else:
                self.breaker.succeeded()
                return result
        return await getattr(self._memory, method)(*args)

    async def check(self, key: str) -> None:
        """Count one request of ``key``; raises `RateLimited` with the 429's headers when over a limit."""
        for item in self.items:
            if not await self._call("hit", item, key):
                raise RateLimited(str(item), await self._headers(item, key))

    async def _headers(self, item: RateLimitItem, key: str) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(item.amount), "Retry-After": str(item.get_expiry())}
        try:
            stats = await self._call("get_window_stats", item, key)
        except Exception as exc:  # noqa: BLE001 - the window's length will do as the wait
            log.warning("rate limit storage unreadable for the 429 headers: %s", exc)
            return headers
        headers.update({"X-RateLimit-Remaining": str(stats.remaining), "X-RateLimit-Reset": str(int(stats.reset_time)),
                        "Retry-After": str(max(1, math.ceil(stats.reset_time - time.time())))})
        return headers


async def rate_limit(request: Request) -> None:
    """The dependency of the limited routes: one hit for the client's address."""
    client = request.client
    await request.app.state.rate_limiter.check(client.host if client else "unknown")
