"""Evaluation: drive the assistant from outside over a Q&A set and score retrieval, routing and abstention.

Importing this package is cheap: ranx, matplotlib and rich load only when a run scores or renders.
"""

from __future__ import annotations

from .cli import check_thresholds, parse_thresholds
from .dataset import KINDS, LANGUAGES, QAFormatError, QAItem, load_qa
from .metrics import Calibration, CalibrationBin, ConfusionMatrix, is_relevant, normalize, ranking_scores
from .report import render_markdown, summary_tables, write_report
from .runner import (
    METRICS,
    AnswerLike,
    Asker,
    ConfigReport,
    EvalReport,
    HttpAsker,
    ItemResult,
    MetricSet,
    RemoteAnswer,
    RemoteAskError,
    run_eval,
)

__all__ = [
    "KINDS",
    "LANGUAGES",
    "METRICS",
    "AnswerLike",
    "Asker",
    "Calibration",
    "CalibrationBin",
    "ConfigReport",
    "ConfusionMatrix",
    "EvalReport",
    "HttpAsker",
    "ItemResult",
    "MetricSet",
    "QAFormatError",
    "QAItem",
    "RemoteAnswer",
    "RemoteAskError",
    "check_thresholds",
    "is_relevant",
    "load_qa",
    "normalize",
    "parse_thresholds",
    "ranking_scores",
    "render_markdown",
    "run_eval",
    "summary_tables",
    "write_report",
]
