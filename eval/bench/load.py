"""HTTP load drivers for POST /api/ask: wrk (C, when installed) or a bounded async httpx client."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .machine import cpu_s
from .results import HttpLevel, Stats, median_stats, stats
from .synthetic import case_variant

HTTP_LEVELS = (1, 8, 16, 32)  # the concurrencies the HTTP section loads the service at


# Shared by every load of a bench run, so no spelling of a question is ever sent twice.
_VARIANTS = itertools.count(1)


async def httpx_load(url: str, questions: Sequence[str], concurrency: int, requests: int, unique: bool,
                     time_limit_s: float, top_k: int = 5) -> tuple[list[float], int, float]:
    """``requests`` POST /api/ask calls by ``concurrency`` workers over one bounded httpx client.

    Returns latencies (ms) of the successful calls, the error count and the wall-clock seconds.
    """
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.perf_counter() + time_limit_s

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            if time.perf_counter() > deadline:
                return
            q = questions[i % len(questions)]
            if unique:  # a new spelling every time: the query cache never answers, the model always runs
                q = case_variant(q, next(_VARIANTS))
            t = time.perf_counter()
            try:
                r = await client.post("/api/ask", json={"question": q, "top_k": top_k})
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - t) * 1000)
            else:
                errors += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0


# wrk (Debian's `wrk` package) drives the load when it is installed: a C load generator costs the shared
# cores a small fraction of the CPU per request that the Python client costs (docs/performance.md), so it
# measures the service rather than the client. Its Lua script sends pre-made bodies in turn and prints its
# summary as one JSON line.
WRK_SCRIPT = Path(__file__).with_name("ask.lua")
WRK_SECONDS = 4  # per level and run: bounded in time, and long enough for several hundred requests


def load_tool() -> str:
    """``wrk`` when the binary is on PATH, else the Python client."""
    return "wrk" if shutil.which("wrk") else "httpx"


def _wrk(url: str, questions: Sequence[str], concurrency: int, unique: bool, seconds: int,
         work: Path) -> tuple[Stats, int, int, float]:
    """One wrk run: latency stats (ms), requests, errors and wall-clock seconds."""
    work.mkdir(parents=True, exist_ok=True)
    script, bodies = work / "ask.lua", work / f"bodies-{'unique' if unique else 'repeated'}.jsonl"
    shutil.copyfile(WRK_SCRIPT, script)
    # Enough unique spellings that none repeats within a run (the service's query cache never answers).
    n = max(len(questions), 1000 * seconds) if unique else len(questions)
    with bodies.open("w", encoding="utf-8") as f:
        for i in range(n):
            q = questions[i % len(questions)]
            f.write(json.dumps({"question": case_variant(q, next(_VARIANTS)) if unique else q, "top_k": 5}) + "\n")
    done = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
                           url], env={**os.environ, "DGM_BENCH_BODIES": str(bodies)}, capture_output=True,
                          text=True, timeout=seconds + 60, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    ms = {k: round(r[k] / 1000, 3) for k in ("p50", "p95", "p99", "mean", "max")}
    return Stats(n=r["requests"], **ms), r["requests"], r["errors"], r["duration_us"] / 1e6


def http_level(url: str, questions: Sequence[str], concurrency: int, requests: int, unique: bool,
               time_limit_s: float = 60.0, server_pids: Sequence[int] = (), tool: str = "httpx",
               work: Path | None = None, wrk_seconds: int = WRK_SECONDS) -> HttpLevel:
    """One load level: ``requests`` calls through the Python client, or ``wrk_seconds`` of wrk."""
    if tool == "wrk":
        import resource

        def client_cpu() -> float:  # wrk runs as this process's child
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            return ru.ru_utime + ru.ru_stime

        def measure() -> tuple[Stats, int, int, float]:
            return _wrk(url, questions, concurrency, unique, wrk_seconds,
                        work or Path(tempfile.mkdtemp(prefix="dgm-wrk-")))
    else:
        def client_cpu() -> float:  # the client runs in this process
            return cpu_s([os.getpid()])

        def measure() -> tuple[Stats, int, int, float]:
            lat, errors, seconds = asyncio.run(httpx_load(url, questions, concurrency, requests, unique,
                                                          time_limit_s))
            return stats(lat), len(lat) + errors, errors, seconds

    s0, c0 = cpu_s(server_pids), client_cpu()
    latency, n, errors, seconds = measure()
    s1, c1 = cpu_s(server_pids), client_cpu()
    done = max(1, n)
    return HttpLevel(concurrency=concurrency, cached=not unique, requests=n, errors=errors,
                     seconds=round(seconds, 3), answers_per_s=round((n - errors) / seconds, 1) if seconds else 0.0,
                     latency=latency, server_cpu_ms=round((s1 - s0) * 1000 / done, 3) if server_pids else None,
                     client_cpu_ms=round((c1 - c0) * 1000 / done, 3), tool=tool)


def median_level(runs: Sequence[HttpLevel]) -> HttpLevel:
    """One level from repeated runs: the median run's counts, each figure's median, the errors summed."""
    best = sorted(runs, key=lambda r: r.answers_per_s)[len(runs) // 2]

    def med(field: str) -> float | None:
        vals = [getattr(r, field) for r in runs if getattr(r, field) is not None]
        return round(statistics.median(vals), 3) if vals else None

    return best.model_copy(update={"latency": median_stats([r.latency for r in runs]),
                                   "errors": sum(r.errors for r in runs),
                                   "answers_per_s": round(statistics.median(r.answers_per_s for r in runs), 1),
                                   "server_cpu_ms": med("server_cpu_ms"), "client_cpu_ms": med("client_cpu_ms")})

