"""The lifespan, over real HTTP: 503 until the index loads, what it loaded kept out of full collections, and a
rebuilt index swapped in (polled under load, or at once on SIGHUP)."""

from __future__ import annotations

import asyncio
import gc
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from assistant.api import create_app
from tests.helpers import NATO, TIMEOUT, ask, ask_many, clean_env, cli_command, serve_in_thread


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


@pytest.mark.slow
def test_rebuild_during_load_swaps_the_index_without_failures(spawn_service, settings,
                                                              tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    index_dir = tmp_path / "index"  # absent: `serve` builds it first
    service = spawn_service(index_dir=index_dir, corpus_dir=corpus, env={"DGM_WATCH_INDEX_S": "0.5"},
                            ready_timeout=180)
    before = httpx.get(service.url + "/api/ready", timeout=10).json()["index"]
    assert before["path"] == index_dir.resolve().name  # the folder's name: /api/ready never shows where it is

    changed = tmp_path / "corpus-changed"
    shutil.copytree(corpus, changed)
    (changed / "pages" / "zz-rebuild-note.txt").write_text(
        "Rebuild note\n\nBelgium supports the peaceful use of outer space and the work of the UN "
        "Committee on the Peaceful Uses of Outer Space.\n", encoding="utf-8")
    new_doc = {"question": "outer space", "document": "zz-rebuild-note"}
    unknown = httpx.post(service.url + "/api/ask", json=new_doc, timeout=30)
    assert unknown.status_code == 422 and ["body", "document"] in [e["loc"] for e in unknown.json()["detail"]]

    async def scenario():
        stop = asyncio.Event()
        load = asyncio.create_task(ask_many(service.url, n=100_000, concurrency=8, time_limit_s=400,
                                            stop=stop))
        try:
            await asyncio.sleep(1.0)
            build = await asyncio.create_subprocess_exec(
                *cli_command(), "build", "--quiet",
                env=clean_env(DGM_INDEX_DIR=str(index_dir), DGM_CORPUS_DIR=str(changed)),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(build.communicate(), 240)
            assert build.returncode == 0, out.decode(errors="replace")
            after = before
            deadline = time.monotonic() + 30
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
                while after["path"] == before["path"] and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    after = (await client.get("/api/ready")).json()["index"]
            await asyncio.sleep(1.0)  # keep asking on the new index for a moment
        finally:
            stop.set()
        return after, await load

    after, results = asyncio.run(scenario())
    errors = [r for r in results if r[0] != 200]
    print(f"\n{len(results)} questions during the rebuild; index {before['path']} -> {after['path']}")
    assert errors == [], errors[:5]
    assert len(results) > 20
    assert after["path"] != before["path"] and after["path"] == index_dir.resolve().name
    assert after["chunks"] > before["chunks"] and after["created_at"] > before["created_at"]
    known = httpx.post(service.url + "/api/ask", json=new_doc, timeout=30)
    assert known.status_code == 200, known.text
    metrics = httpx.get(service.url + "/metrics", timeout=10).text
    assert "dgm_index_reloads_total 1.0" in metrics


@pytest.mark.slow
def test_sighup_swaps_in_a_rebuilt_index_at_once(spawn_service, built_index: Path, settings,
                                                 tmp_path: Path) -> None:
    folder = tmp_path / ".index-copy"
    shutil.copytree(built_index.resolve(), folder)
    link = tmp_path / "index"
    link.symlink_to(folder.name)
    service = spawn_service(index_dir=link, env={"DGM_WATCH_INDEX_S": "0"})  # no polling: only SIGHUP
    ready = service.url + "/api/ready"
    assert httpx.get(ready, timeout=10).json()["index"]["path"] == folder.name

    build = subprocess.run([*cli_command(), "build", "--quiet"], env=clean_env(
        DGM_INDEX_DIR=str(link), DGM_CORPUS_DIR=str(settings.corpus_dir)), capture_output=True, text=True,
        timeout=240)
    assert build.returncode == 0, build.stdout + build.stderr
    new = link.resolve()
    assert new != folder and not folder.exists()  # the old version is gone from disk ...
    time.sleep(1.0)
    assert httpx.get(ready, timeout=10).json()["index"]["path"] == folder.name
    assert httpx.post(service.url + "/api/ask", json={"question": NATO}, timeout=30).status_code == 200  # ... not RAM

    service.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(ready, timeout=10).json()["index"]["path"] == new.name:
            break
        time.sleep(0.2)
    assert httpx.get(ready, timeout=10).json()["index"]["path"] == new.name, service.log()
    assert httpx.post(service.url + "/api/ask", json={"question": NATO}, timeout=30).status_code == 200


def test_the_retention_purge_runs_again_while_the_service_runs() -> None:
    """Besides at start, the purge repeats (daily by default) whether or not questions are recorded."""
    from types import SimpleNamespace

    from assistant.api.lifespan import _purge_daily

    calls: list[int] = []
    app = SimpleNamespace(state=SimpleNamespace(records=SimpleNamespace(purge=lambda: calls.append(1) or (0, 0))))

    async def run() -> None:
        task = asyncio.create_task(_purge_daily(app, 0.01))  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    assert len(calls) >= 3
