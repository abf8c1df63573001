"""Fixtures of the HTTP tests: a client of the real service (`dgm-assistant serve`, the `live_server` fixture).

Where a test needs its own configuration, it serves the app factory with uvicorn in a thread instead
(`tests.helpers.serve_in_thread`), with the session's assistant.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import TIMEOUT


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=TIMEOUT) as c:
        yield c
