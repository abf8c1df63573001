"""`dgm-assistant`: the one command line (Typer) over every stage; the only place that imports both the
assistant and its evaluation, so that no stage imports eval."""

from __future__ import annotations

from .app import app

__all__ = ["app"]
