"""`dgm-assistant serve`: make sure an index exists (building it if there is none), then run uvicorn."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
from types import FrameType
from typing import Any

from index import IndexMismatchError, IndexMissingError, SearchIndex
from index.embedders import embedder_name

from .. import factory
from ..config import Settings
from .deps import SETTINGS_ENV
from .logs import log_config


def _model_name(settings: Settings) -> str:
    return embedder_name(settings.embedding_model, settings.embedding_backend, settings.int8_reduce_range)


def ensure_index(settings: Settings, console) -> SearchIndex:
    """Make sure the service can start: the ONNX export of the model (for the onnx backends) and an index
    built with the configured model. Builds the index from the corpus only when there is none at all.

    An index built with another model (the settings' backend or model changed) is derived data: it is
    rebuilt from the corpus, with a message saying why, rather than served with the wrong vectors. A folder
    that is there but damaged (its manifest removed, a file missing or corrupt) is an error naming the fix,
    never silently replaced: it may be an operator's build gone wrong, or a mount that is not there yet.

    Raises:
        IndexMissingError (a damaged folder), IndexCorruptError (and corpus or model errors if a build fails),
        each naming the fix.
    """
    try:
        index = SearchIndex.load(settings.index_dir, expected_model=_model_name(settings))
    except (IndexMissingError, IndexMismatchError) as exc:
        exists = settings.index_dir.exists() or settings.index_dir.is_symlink()
        if isinstance(exc, IndexMissingError) and exists:
            raise IndexMissingError(f"{exc} (the folder exists but is not a whole index: refusing to replace it; "
                                    f"move it away to let `serve` build a fresh one)") from None
        if isinstance(exc, IndexMissingError):  # the first start: the error's "run build" hint does not apply
            console.print(f"no index at {settings.index_dir} yet: building it from {settings.corpus_dir} ...",
                          soft_wrap=True)
        else:
            console.print(f"{exc}\nrebuilding it with the configured model from {settings.corpus_dir} ...",
                          soft_wrap=True)
        report = factory.build(settings, progress=False)  # makes the ONNX export on the way
        console.print(f"built {report.path}: {report.chunks} chunks, {report.index_type} index, "
                      f"model {report.model}, {report.seconds:.1f} s")
        index = SearchIndex.load(settings.index_dir, expected_model=_model_name(settings))
    factory.ensure_export(settings)  # an index built elsewhere (another folder, a copy) may come without it
    return index


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for the service (its defaults leave the limits below open or trusting).

    - the httptools protocol with a time limit, a size limit and a header count on each request's head
      (`protocol.GuardedHttpToolsProtocol`); the body's limits are the app's. The guard costs nothing
      measurable, the app dominates (docs/performance.md, "What moved the figures"). h11's
      ``h11_max_incomplete_event_size`` alone would bound the head's size but neither its time nor its
      header count. Granian (hyper) has a header read timeout of its own, but would replace uvicorn's
      worker supervision, log configuration and signal handling that `serve` relies on, for limits a
      100-line subclass gives;
    - X-Forwarded-For/-Proto believed only from ``trusted_proxies`` (uvicorn trusts 127.0.0.1 by default,
      so a client on the same host, or a proxy there that passes the header on, could pick its address and
      with it its rate limit);
    - idle keep-alive connections closed after ``keep_alive_s``; new connections answered 503 past
      ``limit_concurrency`` connections and requests per worker, before file descriptors run out;
    - on SIGTERM, requests in flight get ``drain_s`` to finish (after the readiness drain of the lifespan);
    - with several workers, a worker busy loading its model is given ``worker_healthcheck_s`` to answer the
      supervisor's ping before it is restarted.
    """
    from .protocol import GuardedHttpToolsProtocol

    trusted = ",".join(settings.trusted_proxies)
    return {"host": settings.host, "port": settings.port, "workers": settings.workers, "log_config": log_config(),
            "access_log": False, "server_header": False, "lifespan": "on", "http": GuardedHttpToolsProtocol,
            "proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None,
            "timeout_keep_alive": settings.keep_alive_s, "limit_concurrency": settings.limit_concurrency,
            "timeout_graceful_shutdown": settings.drain_s,
            "timeout_worker_healthcheck": settings.worker_healthcheck_s}


APP = "assistant.api.app:create_app"


def _supervisor_class():
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """uvicorn's worker supervisor, letting go of the listening socket at SIGTERM (and SIGINT).

        The workers keep their copies and serve through the readiness drain; once they have closed them,
        the port refuses new connections at once. Kept open here, the socket would go on queueing
        connections that nobody accepts and that are reset when the supervisor exits.
        """

        def _release(self) -> None:
            for sock in self.sockets:
                sock.close()

        def handle_term(self) -> None:
            self._release()
            super().handle_term()

        def handle_int(self) -> None:
            self._release()
            super().handle_int()

    return Supervisor


def _serve(settings: Settings) -> None:
    """uvicorn.run, with `_supervisor_class` supervising several workers."""
    import uvicorn

    options = uvicorn_options(settings)
    if settings.workers == 1:
        uvicorn.run(APP, factory=True, **options)
        return
    config = uvicorn.Config(APP, factory=True, **options)
    sock = config.bind_socket()
    try:
        _supervisor_class()(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def run(settings: Settings, console) -> int:
    """Serve the API and the widget until SIGTERM or Ctrl-C; returns the exit code (0 after a clean stop).

    Each worker process loads the model and index once; SIGTERM lets requests in flight finish.
    """

    index = ensure_index(settings, console)
    console.print(f"serving index {index.path} ({len(index.chunks)} chunks) on "
                  f"http://{settings.host}:{settings.port} with {settings.workers} worker(s)", soft_wrap=True)
    del index  # each worker loads its own
    if not settings.session_secret:  # one key for this server's workers, so a first turn continues on any
        settings = settings.model_copy(update={"session_secret": secrets.token_urlsafe(32)})
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    metrics_dir = None
    if settings.workers > 1:
        if not settings.session_url:
            console.print("note: conversations are kept per worker process; set DGM_SESSION_URL=redis://... "
                          "so that follow-up questions work whichever worker answers them", soft_wrap=True)
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Several processes: prometheus_client aggregates their counters through files in this folder.
            metrics_dir = tempfile.mkdtemp(prefix="dgm-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with the default handler
    # that would kill the process (exit status 143). A stop we asked for is a clean exit, so note it instead.
    stopped_by: list[int] = []

    def note(sig: int, frame: FrameType | None) -> None:
        stopped_by.append(sig)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)}
    # A file that would pass RLIMIT_FSIZE (a quota, a full feedback database) fails the write with EFBIG,
    # answered with a 503, instead of the signal killing the whole service.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        _serve(settings)
    except SystemExit as exc:  # uvicorn exits when it cannot start (e.g. the port is taken)
        console.print(f"the server could not start on {settings.host}:{settings.port} (see the log above)")
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
