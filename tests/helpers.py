"""Helpers shared by test modules of several packages (fixtures live in the conftest.py files)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


# -- the HTTP service -----------------------------------------------------------------------------------------
NATO = "Which directorate deals with NATO?"
TIMEOUT = httpx.Timeout(30.0)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Serve an app with real uvicorn on a free 127.0.0.1 port; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def ask(client: httpx.Client, question: str, **fields) -> httpx.Response:
    return client.post("/api/ask", json={"question": question, **fields})


def cli_command() -> list[str]:
    """`dgm-assistant` of this interpreter's environment, else `python -m cli`."""
    script = Path(sys.executable).with_name("dgm-assistant")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without its ``DGM_*`` settings, offline, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGM_")}
    env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}, **extra)
    return env


QUESTIONS = [
    NATO,
    "Which directorate handles cyber issues?",
    "Who is responsible for climate change negotiations?",
    "What does Belgium do about human rights at the UN?",
    "Which service handles the budget and compulsory contributions?",
    "Who deals with counter-terrorism?",
    "What is the best pizza recipe?",
    "Tell me about disarmament and non-proliferation",
]


async def ask_many(url: str, n: int, concurrency: int, time_limit_s: float,
                   stop: asyncio.Event | None = None) -> list[tuple[int, str]]:
    """Ask ``n`` questions (or until ``stop`` is set), ``concurrency`` at a time; (status, error) each."""
    results: list[tuple[int, str]] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if stop is not None and stop.is_set():
                return
            try:
                r = await client.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                results.append((r.status_code, "" if r.status_code == 200 else r.text[:200]))
            except httpx.HTTPError as exc:
                results.append((0, repr(exc)))

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await asyncio.wait_for(asyncio.gather(*(worker(client) for _ in range(concurrency))), time_limit_s)
    return results
