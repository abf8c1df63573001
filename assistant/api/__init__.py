"""The HTTP service: ``create_app`` (FastAPI) and ``run`` (`dgm-assistant serve`, uvicorn).

Routes (under ``/api``): ``POST /ask``, ``GET /directorates``, ``POST /feedback``, ``GET /health``,
``GET /ready``; plus ``/metrics`` (Prometheus), ``/openapi.json``, ``/docs`` and the widget's files.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
