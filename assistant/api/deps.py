"""Request dependencies: the loaded assistant (503 while loading) and the settings handed to workers."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..config import Settings
from ..pipeline import Assistant

# `dgm-assistant serve` passes its settings to the worker processes through this variable (JSON).
SETTINGS_ENV = "DGM_SERVE_SETTINGS"


def get_assistant(request: Request) -> Assistant:
    """The loaded assistant, or 503 while it is loading (or failed to load)."""
    assistant = request.app.state.assistant
    if assistant is None:
        raise HTTPException(status_code=503, detail=request.app.state.not_ready)
    return assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def settings_from_env() -> Settings:
    """The settings `serve` handed to its workers, else the environment (``DGM_*``)."""
    raw = os.environ.get(SETTINGS_ENV)
    return Settings.model_validate_json(raw) if raw else Settings()
