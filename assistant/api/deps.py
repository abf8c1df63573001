"""Request dependencies: the loaded assistant (503 while loading) and the settings handed to workers."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

from ..config import Settings
from ..errors import SessionsUnavailable
from ..pipeline import Assistant

# `dgm-assistant serve` passes its settings to the worker processes through this variable (JSON).
SETTINGS_ENV = "DGM_SERVE_SETTINGS"


def get_assistant(request: Request) -> Assistant:
    """The loaded assistant, or 503 while it is loading (or failed to load)."""
    assistant = request.app.state.assistant
    if assistant is None:
        raise HTTPException(status_code=503, detail=request.app.state.not_ready)
    return assistant


def degraded(app: FastAPI, assistant: Assistant) -> list[str]:
    """What is down now, each with what the service does meanwhile (empty when all is well).

    Blocking (at most one Redis timeout): run it off the event loop. A session store presumed down is tried
    again here once its retry time has passed: first questions never call it (they are not stored), so
    without this a Redis that came back would be seen only at the next follow-up.
    """
    down = []
    breaker = getattr(assistant.sessions, "breaker", None)
    if breaker is not None and not breaker.available and breaker.allow():
        with contextlib.suppress(SessionsUnavailable):
            assistant.sessions.ping()  # type: ignore[attr-defined]
    if breaker is not None and not breaker.available:
        down.append(f"sessions: redis unavailable ({breaker.last_error}); follow-ups are answered on their own")
    limiter = app.state.rate_limiter
    if limiter.shared and not limiter.breaker.available:
        down.append(f"rate limit: redis unavailable ({limiter.breaker.last_error}); counted in this process")
    problem = app.state.feedback.problem()
    if problem:
        down.append(f"feedback: {problem}; feedback is refused with 503")
    return down


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def settings_from_env() -> Settings:
    """The settings `serve` handed to its workers, else the environment (``DGM_*``)."""
    raw = os.environ.get(SETTINGS_ENV)
    return Settings.model_validate_json(raw) if raw else Settings()
