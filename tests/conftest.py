"""Shared fixtures: the real packaged model, a real index of the shipped corpus, built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import CORPUS, cli_command, free_port

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def torch_embedder():
    """The packaged all-MiniLM-L6-v2 on sentence-transformers' torch backend, through the real loading code."""
    from index import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory) -> Path:
    """A private copy of the shipped corpus (tests may add files to it)."""
    dst = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture(scope="session")
def settings(tmp_path_factory, corpus_copy):
    """Settings pointing at a temporary index and feedback file (never the developer's var/)."""
    from assistant.config import Settings

    base = tmp_path_factory.mktemp("var")
    return Settings(corpus_dir=corpus_copy, index_dir=base / "index", feedback_path=base / "feedback.jsonl",
                    database_url=f"sqlite:///{base / 'dgm.db'}")


@pytest.fixture(scope="session")
def embedder(settings):
    """The embedder the settings' default backend gives (the int8 ONNX export of the packaged model, exported
    from the package's own folder on first use), made by the same factory as `build` and `serve`."""
    from assistant.factory import make_embedder

    return make_embedder(settings, for_build=True)


@pytest.fixture(scope="session")
def built_index(settings, embedder):
    """The shipped corpus built into a temporary index folder with the real model and FAISS."""
    from assistant.factory import build

    build(settings, embedder=embedder, progress=False)
    return settings.index_dir


@pytest.fixture(scope="session")
def assistant(settings, built_index, embedder):
    """One assistant over the real index (tests use fresh session ids, so they do not interfere)."""
    from assistant.factory import load_assistant

    return load_assistant(settings, embedder=embedder)


# ---------------------------------------------------------------------------------------------------------
# The HTTP service, for real: `dgm-assistant serve` subprocesses on free 127.0.0.1 ports, and a Redis server.

SERVE_READY_S = 60  # model + index load; a server that must build its index first gets more


class Service:
    """A running `dgm-assistant serve` process.

    Attributes:
        url: base URL, e.g. ``http://127.0.0.1:PORT`` (the demo page, the widget and the API).
        feedback_path: its former JSON Lines feedback file (``migrate-feedback``'s default source).
        database_url: its feedback database (SQLite in ``workdir``); ``feedback_records()`` reads it.
        proc: the ``subprocess.Popen``.
        index_dir: the index folder (symlink) it serves.
        log_path: its stdout and stderr (JSON log lines).
    """

    def __init__(self, url: str, feedback_path: Path, proc, index_dir: Path, log_path: Path,
                 database_url: str = "") -> None:
        self.url = url
        self.feedback_path = feedback_path
        self.proc = proc
        self.index_dir = index_dir
        self.log_path = log_path
        self.database_url = database_url

    def feedback_records(self) -> list[dict]:
        """Every feedback record the service stored, read from its database (oldest first)."""
        from assistant.api.feedback import FeedbackStore

        store = FeedbackStore(self.database_url)
        try:
            return store.records()
        finally:
            store.close()

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM, then wait (SIGKILL past ``timeout``); returns the exit code."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def wait_ready(self, timeout: float = SERVE_READY_S) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(self.url + "/api/ready", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.25)
        self.stop(timeout=5)
        raise RuntimeError(f"the service was not ready within {timeout:.0f} s ({last}):\n{self.log()}")


def start_service(workdir: Path, index_dir: Path, corpus_dir: Path, env: dict[str, str] | None = None,
                  ready_timeout: float = SERVE_READY_S, wait: bool = True, prefix: list[str] | None = None) -> Service:
    """Start `dgm-assistant serve` on a free 127.0.0.1 port with its own feedback database and log (``prefix``:
    a command it runs under, e.g. ``setpriv ...``)."""
    import subprocess

    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    feedback = workdir / "feedback.jsonl"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DGM_")}
    full_env.update({
        "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "DGM_HOST": "127.0.0.1",
        "DGM_PORT": str(port), "DGM_INDEX_DIR": str(index_dir), "DGM_CORPUS_DIR": str(corpus_dir),
        "DGM_FEEDBACK_PATH": str(feedback), "DGM_RATE_LIMIT": "100000/minute",
        "DGM_DATABASE_URL": f"sqlite:///{workdir / 'dgm.db'}",
    })
    full_env.update(env or {})
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
        proc = subprocess.Popen([*(prefix or []), *cli_command(), "serve"], cwd=workdir, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    service = Service(f"http://127.0.0.1:{port}", feedback, proc, index_dir, log_path,
                      full_env["DGM_DATABASE_URL"])
    if wait:
        service.wait_ready(ready_timeout)
    return service


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, settings, built_index):
    """The real service (`dgm-assistant serve` in a subprocess) over the session's index.

    Yields a ``Service`` with ``url``, ``feedback_path`` and ``proc``; stopped with SIGTERM at the end.
    """
    service = start_service(tmp_path_factory.mktemp("live_server"), built_index, settings.corpus_dir)
    yield service
    service.stop()


@pytest.fixture
def spawn_service(tmp_path, settings, built_index):
    """Start extra services in a test: ``spawn_service(index_dir=..., env={...})``; all stopped after it."""
    started: list[Service] = []

    def spawn(index_dir: Path | None = None, corpus_dir: Path | None = None,
              env: dict[str, str] | None = None, ready_timeout: float = SERVE_READY_S,
              wait: bool = True, prefix: list[str] | None = None) -> Service:
        service = start_service(tmp_path / f"service{len(started)}", index_dir or built_index,
                                corpus_dir or settings.corpus_dir, env, ready_timeout, wait, prefix)
        started.append(service)
        return service

    yield spawn
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The path of Debian's `redis-server`. Skipped when it is not installed, except in CI (env CI set), where
    that is a failure."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (apt-get install redis-server); CI runs redis tests")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return binary


@pytest.fixture(scope="session")
def redis_url(redis_binary, tmp_path_factory):
    """A private `redis-server` on a free 127.0.0.1 port, no persistence; yields its redis:// URL.

    Started by `eval.bench.procs.redis_server`, the one the benchmark's multi-worker configuration uses.
    """
    from eval.bench.procs import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL cluster on a free 127.0.0.1 port (`tests.pgserver`). Skipped when PostgreSQL is not
    installed, except in CI (env CI set), where that is a failure."""
    from tests.pgserver import postgres_bin, postgres_server

    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql); CI runs the PostgreSQL tests")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as server:
        yield server
