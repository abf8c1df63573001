"""The lifespan, over real HTTP: 503 until the index loads, and what it loaded kept out of full collections."""

from __future__ import annotations

import gc
import time

import httpx

from assistant.api import create_app
from tests.helpers import NATO, TIMEOUT, ask, serve_in_thread


def test_ready_is_503_until_the_index_loads(settings, tmp_path) -> None:
    broken = settings.model_copy(update={"index_dir": tmp_path / "no-index", "watch_index_s": 0})
    with serve_in_thread(create_app(broken)) as url, httpx.Client(base_url=url, timeout=TIMEOUT) as c:
        assert c.get("/api/health").status_code == 200
        deadline = time.monotonic() + 60
        while True:
            r = c.get("/api/ready")
            assert r.status_code == 503
            if "dgm-assistant build" in r.json()["detail"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "dgm-assistant build" in r.json()["detail"]  # the reason names the fix
        q = ask(c, NATO)
        assert q.status_code == 503 and "dgm-assistant build" in q.json()["detail"]
        assert c.get("/api/directorates").status_code == 503


def test_a_loaded_index_is_kept_out_of_full_garbage_collections(settings, built_index) -> None:
    """A full collection walked the whole loaded assistant (a pause of 45-110 ms that every request in flight
    waited out, seen under load); the service freezes what it loaded, so a full collection skips it."""
    gc.unfreeze()
    try:
        with serve_in_thread(create_app(settings.model_copy(update={"watch_index_s": 0}))) as url, \
                httpx.Client(base_url=url, timeout=TIMEOUT) as c:
            deadline = time.monotonic() + 60
            while c.get("/api/ready").status_code != 200:
                assert time.monotonic() < deadline, "the index did not load"
                time.sleep(0.1)
            assert gc.get_freeze_count() > 10_000
            assert ask(c, NATO).status_code == 200
    finally:
        gc.unfreeze()  # this test process shares its heap with the other tests
