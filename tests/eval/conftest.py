"""Fixtures of the eval tests: a report of two configurations scripted by `tests.helpers.ScriptedAsker`."""

from __future__ import annotations

import pytest

from eval.runner import EvalReport, run_eval
from tests.helpers import ITEMS, ScriptedAsker


@pytest.fixture(scope="module")
def report() -> EvalReport:
    return run_eval({"bm25": ScriptedAsker(), "full": ScriptedAsker()}, ITEMS, top_k=10, progress=False)
