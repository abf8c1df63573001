"""The lifespan: load the model and index once per worker, off the event loop, and swap in rebuilt indexes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

import anyio
from fastapi import FastAPI

from .. import factory
from ..config import Settings
from ..errors import DGMError
from ..insights.records import PURGE_EVERY_S
from ..pipeline import Assistant

log = logging.getLogger(__name__)


def _settle_heap() -> None:
    """Move what is loaded now (model, index, catalogue) out of the garbage collector's sight.

    A full collection walks every tracked object, the loaded assistant's too: tens of milliseconds, a pause
    that every request in flight waits out (docs/performance.md). Frozen objects are skipped, so a full
    collection becomes cheap; they are still freed by reference counting. After an index swap the heap is
    unfrozen, so that the old engine's reference cycles can be collected, and settled again.
    """
    gc.collect()
    gc.freeze()


def _watch_sessions(app: FastAPI) -> None:
    """Count the session store's failures in the metrics (a Redis store has a breaker; memory has none)."""
    breaker = getattr(app.state.assistant.sessions, "breaker", None)
    if breaker is not None:
        app.state.metrics.watch("redis-sessions", breaker)


def _drain_on_sigterm(app: FastAPI, delay_s: float) -> Callable[[], None] | None:
    """On SIGTERM, first answer /api/ready with 503 for ``delay_s`` seconds while serving as usual (a load
    balancer takes the replica out of rotation), then let uvicorn stop: it closes the listening socket and
    waits for the requests in flight (``timeout_graceful_shutdown``). A second SIGTERM stops at once.

    Returns what restores the previous handler, or None where signals cannot be handled (not the main thread).
    """
    previous = signal.getsignal(signal.SIGTERM)
    if delay_s <= 0 or not callable(previous):
        return None
    loop = asyncio.get_running_loop()

    def on_term(sig: int, frame: FrameType | None) -> None:
        if app.state.draining:
            previous(sig, frame)
            return
        app.state.draining = True
        log.info("SIGTERM: /api/ready answers 503 for %.1f s, then the server stops", delay_s)
        loop.call_soon_threadsafe(loop.call_later, delay_s, previous, sig, None)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (the app served in a test's thread)
        return None
    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


async def _load(app: FastAPI, settings: Settings) -> None:
    try:
        app.state.assistant = await anyio.to_thread.run_sync(factory.load_assistant, settings)
        _watch_sessions(app)
        _settle_heap()
        log.info("ready: index %s", app.state.assistant.engine.index.path)
    except (DGMError, ValueError, OSError) as exc:
        app.state.not_ready = f"the index could not be loaded: {exc}"
        log.error("%s", app.state.not_ready)
    except Exception as exc:  # anything else must still show in /api/ready, not leave it "loading" forever
        app.state.not_ready = f"the assistant could not be loaded ({exc.__class__.__name__}: {exc})"
        log.exception("%s", app.state.not_ready)


async def _watch_index(app: FastAPI, settings: Settings, wake: asyncio.Event) -> None:
    """Swap in a rebuilt index: every ``watch_index_s`` seconds, or at once when woken (SIGHUP)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=settings.watch_index_s or None)
        wake.clear()
        assistant: Assistant | None = app.state.assistant
        if assistant is None:
            continue
        load = factory.engine_loader(settings, assistant.engine)
        try:
            swapped = await anyio.to_thread.run_sync(assistant.reload_if_changed, settings.index_dir, load)
        except Exception as exc:  # a broken or half-removed build: keep serving the current index, retry
            log.warning("index reload failed, keeping %s: %s: %s", assistant.engine.index.path,
                        exc.__class__.__name__, exc)
            continue
        if swapped:
            app.state.metrics.reloads.inc()
            gc.unfreeze()  # the old engine, frozen with the rest, can be collected now
            _settle_heap()


def _purge(app: FastAPI) -> None:
    """Delete the question and feedback records older than the retention; a failure is logged, not fatal."""
    try:
        removed = app.state.records.purge()
        log.info("retention: %d question records and %d feedback records removed", *removed)
    except Exception as exc:  # the database may be down at start: serving goes on, the next purge retries
        reason = str(getattr(exc, "orig", None) or exc).strip()
        log.warning("retention purge failed: %s%s", exc.__class__.__name__,
                    f": {reason.splitlines()[0][:200]}" if reason else "")


async def _purge_daily(app: FastAPI, every_s: float) -> None:
    """The retention purge once every ``every_s`` while the service runs, whether questions are recorded or
    not (feedback is kept no longer than the retention either)."""
    while True:
        await asyncio.sleep(every_s)
        await anyio.to_thread.run_sync(_purge, app)


def lifespan(settings: Settings, assistant: Assistant | None):
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        app.state.model_limiter = anyio.CapacityLimiter(settings.model_threads)
        await anyio.to_thread.run_sync(_purge, app)
        tasks: list[asyncio.Task] = [asyncio.create_task(_purge_daily(app, PURGE_EVERY_S))]
        if assistant is not None:
            app.state.assistant = assistant
            _watch_sessions(app)
        elif settings.workers > 1:
            # Workers share one listening socket and uvicorn starts accepting only after this startup: loading
            # here keeps a worker that is still loading from taking requests (and answering 503) while its
            # siblings are ready.
            await _load(app, settings)
        else:
            # One process: accept at once, so /api/health answers and /api/ready says "loading" meanwhile.
            tasks.append(asyncio.create_task(_load(app, settings)))
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        hup = False
        try:
            loop.add_signal_handler(signal.SIGHUP, wake.set)
            hup = True
        except (ValueError, RuntimeError, NotImplementedError, AttributeError):
            pass  # not the main thread (tests) or no SIGHUP on this platform: polling only
        if settings.watch_index_s > 0 or hup:
            tasks.append(asyncio.create_task(_watch_index(app, settings, wake)))
        restore_term = _drain_on_sigterm(app, settings.drain_delay_s)
        try:
            yield
        finally:
            if restore_term is not None:
                restore_term()
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            recorder = getattr(app.state, "recorder", None)
            if recorder is not None:
                await anyio.to_thread.run_sync(recorder.close)  # what is queued is written before the exit
            app.state.feedback.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    return run
