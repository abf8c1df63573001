"""What visitors ask: masked question records, the web team's report (terminal, HTML, CSV), the purge."""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from .records import (
    COLUMNS,
    Decision,
    QuestionRecord,
    QuestionRecords,
    Reason,
    Recorder,
    decline_reason,
    record_of,
    to_csv,
)
from .render import render_html
from .report import Nearest, Report, Topic, build_report, choose_clusters, topics_of

if typing.TYPE_CHECKING:
    from ..pipeline import Engine
    from ..privacy import Masker


def engine_search(engine: Engine) -> tuple[Callable[[list[str]], np.ndarray], Callable[[np.ndarray], Nearest | None]]:
    """The engine's own embedder (as for a question) and its index's nearest passage, for the report."""

    def embed(texts: list[str]) -> np.ndarray:
        return np.stack([engine.embedder.encode_query(t) for t in texts])

    def nearest(vector: np.ndarray) -> Nearest | None:
        scores, ids = engine.index.vectors.search(vector[None, :], 1)
        if not len(ids[0]) or ids[0][0] < 0:
            return None
        chunk = engine.index.chunks[int(ids[0][0])]
        return Nearest(title=chunk.doc_title, section=chunk.section, source=chunk.source or None, text=chunk.text,
                       score=float(scores[0][0]))

    return embed, nearest


def make_report(records: QuestionRecords, masker: Masker, engine: Engine | None, days: int | None = None,
                max_clusters: int = 8, examples: int = 3) -> Report:
    """The report of the last ``days`` days (all records when None), with topics when an engine is given."""
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    embed, nearest = engine_search(engine) if engine is not None else (None, None)
    return build_report(records.rows(since), records.disliked(since), masker, embed=embed, nearest=nearest,
                        max_clusters=max_clusters, examples=examples, since=since)


__all__ = [
    "COLUMNS",
    "Decision",
    "Nearest",
    "QuestionRecord",
    "QuestionRecords",
    "Reason",
    "Recorder",
    "Report",
    "Topic",
    "build_report",
    "choose_clusters",
    "decline_reason",
    "engine_search",
    "make_report",
    "record_of",
    "render_html",
    "to_csv",
    "topics_of",
]
