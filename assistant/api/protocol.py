"""uvicorn's httptools protocol with the limits it lacks on a request's head: a time to receive it, a size
and a header count.

uvicorn bounds the idle time between keep-alive requests (``timeout_keep_alive``) but not the time a client
takes to send a request line and headers: a client sending one header byte every few seconds ("slowloris")
holds a connection, and a ``limit_concurrency`` slot, for ever. Nor does the httptools parser bound the
head's size or its number of headers. These three limits are checked here, on the event loop, at no cost
to a well-behaved request (one timer per connection, a counter per header). The body's limits are the
app's (`middleware.BodyLimitMiddleware`).

The limits are read from the settings `serve` hands its workers (``DGM_SERVE_SETTINGS``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import lru_cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .deps import settings_from_env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadLimits:
    timeout_s: float
    max_bytes: int
    max_headers: int


@lru_cache(maxsize=1)
def head_limits() -> HeadLimits:
    s = settings_from_env()
    return HeadLimits(s.header_timeout_s, s.max_header_bytes, s.max_headers)


def _response(status: bytes, message: str) -> bytes:
    body = message.encode("ascii")
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n\r\n" + body)


class _Refused(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that answers 408 to a head not received within ``header_timeout_s`` and 431 to
    one over ``max_header_bytes`` or ``max_headers``, then closes the connection."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._limits = head_limits()
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_count = 0
        self._refused = False
        self._served = 0  # requests answered on this connection
        self._last_request = False  # the server is stopping: answer the request being received, then close

    # -- the head's timer: armed when a connection opens and when a new request begins on it ---------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self._limits.timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (pipelined bytes may follow it): not a slow head
        self._refuse(b"408 Request Timeout", f"the request's headers did not arrive within "
                                             f"{self._limits.timeout_s:g} s")

    def _refuse(self, status: bytes, message: str) -> None:
        self._refused = True
        log.info("refused %s: %s", status.decode(), message)
        self.transport.write(_response(status, message))
        self.transport.close()

    # -- parser callbacks ---------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._head_count = 0
        self._arm()  # a keep-alive connection's next request gets the same time for its head

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)
        super().on_header(name, value)

    def _count(self, size: int, headers: int) -> None:
        self._head_bytes += size
        self._head_count += headers
        if self._head_bytes > self._limits.max_bytes:
            self._refuse(b"431 Request Header Fields Too Large",
                         f"the request line and headers are larger than {self._limits.max_bytes} bytes")
            raise _Refused
        if self._head_count > self._limits.max_headers:
            self._refuse(b"431 Request Header Fields Too Large",
                         f"the request has more than {self._limits.max_headers} headers")
            raise _Refused

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self._last_request and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_response_complete(self) -> None:
        self._served += 1
        super().on_response_complete()

    # -- stopping -----------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """uvicorn closes every connection without a request in progress when it stops. A connection that
        was accepted but whose first request has not arrived yet would then be closed under a client that
        has just sent it (a reset, not a refusal it could retry). Such a connection gets its one request
        answered (within the head's time limit), then is closed; idle keep-alive connections close as before
        (during the readiness drain every answer says ``Connection: close``, so few remain)."""
        if self._served == 0 and self.cycle is None and not self.transport.is_closing():
            self._last_request = True
            self._arm()
            return
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self._refused:  # the parser's error is our own refusal, already answered
            return
        super().send_400_response(msg)
