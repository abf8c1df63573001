"""The soak: one served configuration under steady load for a bounded time; requests, errors and how the
service's memory moves (RSS at the start, half-way and at the end), so that a leak shows as drift."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .load import http_level, httpx_load, load_tool
from .procs import ServedProcess
from .results import SoakResult

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)

SOAK_S = 30  # the bench's default: short (CPU is shared); `dgm-assistant bench --soak-s 600` for a long one
SOAK_CONCURRENCY = 16


def bench_soak(settings: Settings, questions: Sequence[str], work: Path, seconds: int = SOAK_S,
               concurrency: int = SOAK_CONCURRENCY, tool: str | None = None) -> SoakResult:
    """Serve ``settings``, warm up, then load /api/ask with unique questions for ``seconds``.

    RSS (all the service's processes) is sampled every second; the drift is the end minus the start of the
    run, and the second half's drift (end minus half-way) leaves out the caches filling at first.
    """
    if seconds < 1 or concurrency < 1:
        raise ValueError(f"seconds and concurrency must be at least 1, got {seconds} and {concurrency}")
    tool = tool or load_tool()
    served = ServedProcess(settings, work / "serve-soak.log")
    samples: list[tuple[float, float]] = []
    try:
        served.wait_ready()
        asyncio.run(httpx_load(served.url, questions, 4, 40, unique=True, time_limit_s=30))  # warm-up
        stop = threading.Event()
        t0 = time.perf_counter()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.perf_counter() - t0, served.rss_mib()))
                stop.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            level = http_level(served.url, questions, concurrency, requests=10**9, unique=True,
                               time_limit_s=seconds, tool=tool, work=work / "wrk-soak", wrk_seconds=seconds)
        finally:
            stop.set()
            sampler.join()
        samples.append((time.perf_counter() - t0, served.rss_mib()))
        start, end = samples[0][1], samples[-1][1]
        middle = min(samples, key=lambda s: abs(s[0] - samples[-1][0] / 2))[1]
        return SoakResult(seconds=round(level.seconds, 1), concurrency=concurrency, workers=settings.workers,
                          requests=level.requests, errors=level.errors, answers_per_s=level.answers_per_s,
                          p99_ms=level.latency.p99, rss_start_mib=round(start, 1), rss_end_mib=round(end, 1),
                          rss_peak_mib=round(max(r for _, r in samples), 1), rss_drift_mib=round(end - start, 1),
                          rss_drift_second_half_mib=round(end - middle, 1), tool=tool,
                          alive=served.proc.poll() is None)
    except Exception as exc:  # noqa: BLE001 - a soak that fails is a figure, not a crash
        log.warning("soak failed: %s", exc)
        return SoakResult(seconds=0, concurrency=concurrency, workers=settings.workers, requests=0, errors=0,
                          answers_per_s=0, tool=tool, error=f"{type(exc).__name__}: {exc}")
    finally:
        served.stop()

