"""Helpers shared by test modules of several packages (fixtures live in the conftest.py files)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
