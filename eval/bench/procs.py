"""Processes the HTTP section starts on 127.0.0.1: `dgm-assistant serve` and a private redis-server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .machine import vm_hwm_mib

if TYPE_CHECKING:
    from assistant.config import Settings


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command() -> list[str]:
    """The installed `dgm-assistant serve` beside this Python, else the CLI module run by it."""
    exe = Path(sys.executable).with_name("dgm-assistant")
    return [str(exe), "serve"] if exe.is_file() else [sys.executable, "-m", "cli", "serve"]


@contextlib.contextmanager
def redis_server(work: Path, timeout: float = 15.0) -> Iterator[str | None]:
    """A private ``redis-server`` on a free 127.0.0.1 port without persistence: yields its redis:// URL, or
    None when Debian's redis-server is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    import redis

    port = free_port()
    folder = work / f"redis-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


class ServedProcess:
    """`dgm-assistant serve` in a subprocess on 127.0.0.1, with its output in a log file."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DGM_")}
        env.update({
            "DGM_HOST": "127.0.0.1", "DGM_PORT": str(self.port), "DGM_INDEX_DIR": str(settings.index_dir),
            "DGM_CORPUS_DIR": str(settings.corpus_dir), "DGM_EMBEDDING_BACKEND": settings.embedding_backend,
            "DGM_EMBEDDING_MODEL": settings.embedding_model, "DGM_RATE_LIMIT": "1000000/second",
            "DGM_FEEDBACK_PATH": str(settings.feedback_path), "DGM_WATCH_INDEX_S": "0",
            "DGM_DATABASE_URL": f"sqlite:///{Path(settings.feedback_path).with_name('dgm.db')}",
            "DGM_WORKERS": str(settings.workers), "DGM_MODEL_THREADS": str(settings.model_threads),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        })
        if settings.session_url:
            env["DGM_SESSION_URL"] = settings.session_url
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(serve_command(), env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from spawn to the first 200 from /api/ready."""
        import httpx

        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - self.started < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"`dgm-assistant serve` exited with {self.proc.returncode}: "
                                       f"{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/api/ready").status_code == 200:
                        return time.perf_counter() - self.started
                time.sleep(0.02)
        raise RuntimeError(f"`dgm-assistant serve` was not ready after {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def pids(self) -> list[int]:
        import psutil

        with contextlib.suppress(psutil.Error):
            p = psutil.Process(self.proc.pid)
            return [p.pid] + [c.pid for c in p.children(recursive=True)]
        return []

    def rss_mib(self) -> float:
        """Current RSS of the service (the server process and its workers)."""
        import psutil

        total = 0
        for pid in self.pids():
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total / 2**20

    def peak_rss_mib(self) -> float | None:
        """The largest peak RSS (VmHWM) of any one process of the service: the per-worker figure."""
        peaks = [v for v in (vm_hwm_mib(pid) for pid in self.pids()) if v is not None]
        return max(peaks) if peaks else None

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class RssSampler:
    """Samples a served process's RSS in a background thread while a load runs."""

    def __init__(self, served: ServedProcess, every_s: float = 0.05) -> None:
        self._served, self._every = served, every_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._served.rss_mib())
            self._stop.wait(self._every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
