"""One record per answered or declined question, masked, in the feedback database (its own table).

The record is made from the answer and its trace, the pipeline's own decision: declined or answered, and
for a declined question the signal of the scope model that declined it (`decline_reason`), never from the
answer's wording. The question text is masked (`assistant.privacy.Masker`) before it reaches the database.
Records older than the retention are deleted by `QuestionRecords.purge` (the `purge` command, the service's
start, and once a day while it runs), the feedback records with them.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    desc,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from ..models import Answer
from ..privacy import Masker
from ..scope import FEATURES, ScopeDecision, ScopeWeights
from ..sessions import conversation_key as session_key

log = logging.getLogger(__name__)

metadata = MetaData()
questions_table = Table(
    "question_records", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime, nullable=False, index=True),  # UTC, naive (SQLite and PostgreSQL alike)
    Column("session_key", String(64), nullable=False),  # sha256 of the session id: links a rating, not a person
    Column("request_id", String(128), nullable=True),
    Column("question", Text, nullable=False),  # masked
    Column("language", String(8), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("reason", String(32), nullable=True),
    Column("kind", String(32), nullable=True),  # the question's kind as the reader saw it
    Column("unit", String(32), nullable=True),
    Column("confidence", Float, nullable=True),  # the scope model's probability that the pages answer it
    Column("followup", Boolean, nullable=False, default=False),
    Column("nearest_doc", String(300), nullable=True),  # the best passage's page title
    Column("nearest_passage", String(300), nullable=True),  # ... and its id
    Column("rating", String(8), nullable=True),
    Column("comment", Text, nullable=True),  # masked
)
PURGE_EVERY_S = 24 * 3600  # a running service purges once a day, besides at its start
QUEUE_SIZE = 1000  # records waiting for the writer thread; beyond, new ones are dropped and counted


class Decision(StrEnum):
    ANSWERED = "answered"
    DECLINED = "declined"


class Reason(StrEnum):
    """Why a question was declined, read from the scope model's signals."""

    OFF_TOPIC = "off_topic"  # the question's kind is not the pages' (small talk, a service, another country ...)
    UNANSWERABLE_KIND = "unanswerable_kind"  # asks for a fact of a kind the pages never give
    NO_PASSAGE = "no_passage"  # in the pages' field, but no passage close enough


@dataclass(frozen=True)
class QuestionRecord:
    """What is kept of one question (see the README's privacy section)."""

    ts: datetime
    session_key: str
    request_id: str | None
    question: str
    language: str | None
    decision: str
    reason: str | None
    kind: str | None
    unit: str | None
    confidence: float | None
    followup: bool
    nearest_doc: str | None
    nearest_passage: str | None
    rating: str | None = None
    comment: str | None = None


COLUMNS = tuple(f.name for f in fields(QuestionRecord))


def decline_reason(scope: ScopeDecision, weights: ScopeWeights, threshold: float) -> Reason:
    """Which of the scope model's signals declined the question.

    The kind of the question weighs first: a question the reader took for an off-topic kind (small talk,
    a trivia fact, another country's view, a service for the asker) or for an unanswerable one (a person, a
    date or a number that no retrieved passage holds) is
    declined for that when its weight pulled the score down. Otherwise, if the question model's verdict
    (the question reads like the off-topic ones) alone made the score fall below the threshold, it is off
    topic; else the passages were not close enough: no passage.
    """
    contribution = {k: weights.weights.get(k, 0.0) * scope.features.get(k, 0.0) for k in FEATURES}
    by_kind = {Reason.OFF_TOPIC: contribution["off_kind"] + contribution["service"],
               Reason.UNANSWERABLE_KIND: contribution["person"] + contribution["fact_missing"]}
    pulled = {r: v for r, v in by_kind.items() if v < 0}
    if pulled:
        return min(pulled, key=lambda r: pulled[r])
    model = contribution["question_model"]
    if model < 0:
        z = weights.bias + sum(contribution.values())
        cut = math.log(threshold / (1 - threshold)) if 0 < threshold < 1 else 0.0
        if z - model >= cut:
            return Reason.OFF_TOPIC
    return Reason.NO_PASSAGE


def record_of(answer: Answer, masker: Masker, weights: ScopeWeights, threshold: float,
              request_id: str | None = None, now: datetime | None = None) -> QuestionRecord:
    """The record of one answer (made with ``trace=True``; without a trace the reason and nearest page are
    unknown)."""
    trace = answer.trace
    reason: str | None = None
    kind = nearest_doc = nearest_passage = None
    if trace is not None:
        kind = trace.scope.question_type
        if answer.abstained:
            reason = decline_reason(trace.scope, weights, threshold).value
        if trace.retrieval.hits:
            best = trace.retrieval.hits[0].chunk
            nearest_doc, nearest_passage = best.doc_title[:300], best.id[:300]
    return QuestionRecord(
        ts=(now or datetime.now(UTC)).replace(tzinfo=None), session_key=session_key(answer.session_id),
        request_id=request_id, question=masker.mask(answer.question) or "", language=answer.language,
        decision=(Decision.DECLINED if answer.abstained else Decision.ANSWERED).value, reason=reason, kind=kind,
        unit=answer.directorate.code if answer.directorate else None, confidence=answer.in_scope,
        followup=answer.is_followup, nearest_doc=nearest_doc, nearest_passage=nearest_passage)


class QuestionRecords:
    """The question records in a database (the feedback store's engine, `assistant.api.feedback.make_engine`).

    Args:
        engine: a SQLAlchemy engine.
        retention_days: records older than this many days are deleted by `purge`.
    """

    def __init__(self, engine: Engine, retention_days: int) -> None:
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        self.engine = engine
        self.retention_days = retention_days
        self._schema_ready = False
        self._lock = threading.Lock()

    def ensure_schema(self) -> None:
        if not self._schema_ready:
            with self._lock:
                if not self._schema_ready:
                    with self.engine.begin() as conn:
                        conn.execute(CreateTable(questions_table, if_not_exists=True))
                        for ix in questions_table.indexes:
                            conn.execute(CreateIndex(ix, if_not_exists=True))
                    self._schema_ready = True

    def add(self, record: QuestionRecord) -> None:
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(insert(questions_table).values(asdict(record)))

    def rate(self, session_id: str, question: str, rating: str, comment: str | None) -> bool:
        """Put a rating (and its masked comment) on the latest record of this session and masked question;
        False when there is none (recording was off, or the record was purged)."""
        self.ensure_schema()
        t = questions_table
        with self.engine.begin() as conn:
            row = conn.execute(select(t.c.id).where(t.c.session_key == session_key(session_id),
                                                    t.c.question == question)
                               .order_by(desc(t.c.id)).limit(1)).first()
            if row is None:
                return False
            conn.execute(update(t).where(t.c.id == row.id).values(rating=rating, comment=comment))
        return True

    def cutoff(self, now: datetime | None = None) -> datetime:
        return (now or datetime.now(UTC)).replace(tzinfo=None) - timedelta(days=self.retention_days)

    def purge(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete the question records and the feedback records older than the retention.

        Returns:
            (question records deleted, feedback records deleted).
        """
        from ..api.feedback import feedback_table

        self.ensure_schema()
        cutoff = self.cutoff(now)
        with self.engine.begin() as conn:
            questions = conn.execute(delete(questions_table).where(questions_table.c.ts < cutoff)).rowcount
            # feedback.ts is an ISO 8601 string in UTC ("2026-12-01T13:17:40.123+00:00"): it sorts as text.
            stamp = cutoff.replace(tzinfo=UTC).isoformat(timespec="milliseconds")
            feedback_table.create(conn, checkfirst=True)
            feedback = conn.execute(delete(feedback_table).where(feedback_table.c.ts < stamp)).rowcount
        return int(questions or 0), int(feedback or 0)

    def rows(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The records (since ``since``, UTC), oldest first."""
        self.ensure_schema()
        t = questions_table
        query = select(*[t.c[name] for name in COLUMNS]).order_by(t.c.ts, t.c.id)
        if since is not None:
            query = query.where(t.c.ts >= since.replace(tzinfo=None))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    def disliked(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The thumbs-down feedback (question, answer, comment), newest first."""
        from ..api.feedback import feedback_table as f

        query = select(f.c.ts, f.c.question, f.c.answer, f.c.comment).where(f.c.rating == "down")
        if since is not None:
            query = query.where(f.c.ts >= since.replace(tzinfo=UTC).isoformat(timespec="milliseconds"))
        with self.engine.begin() as conn:
            f.create(conn, checkfirst=True)
            return [dict(r) for r in conn.execute(query.order_by(desc(f.c.id))).mappings().all()]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The records as CSV (one header line, the record's fields in order; times in ISO 8601, UTC)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection", OWASP): a visitor's
# "=HYPERLINK(...)" must reach the web team's sheet as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class Recorder:
    """What the HTTP routes call after answering: masks, records and rates; a failure is logged and counted,
    never raised (the visitor has the answer already).

    Args:
        records: the store.
        masker: masks the question and comments.
        weights: reads the scope model of an answer (the assistant's `scope_weights`).
        threshold: reads the abstention threshold (the assistant's `abstain_threshold`).
        on_failure: called once per failed write (the service counts them in its metrics).
    """

    def __init__(self, records: QuestionRecords, masker: Masker, weights: Callable[[], ScopeWeights],
                 threshold: Callable[[], float], on_failure: Callable[[], None] | None = None) -> None:
        self.records = records
        self.masker = masker
        self.weights = weights
        self.threshold = threshold
        self.on_failure = on_failure
        self.failures = 0
        # One writer thread behind a bounded queue: the HTTP route hands a record over and returns, so neither
        # the visitor nor the request's own bookkeeping (metrics, logs) waits for the database's fsync, and
        # a slow database costs dropped records (counted), never a growing backlog. One thread keeps the
        # order: a rating finds the record it rates.
        self._queue: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.Queue(QUEUE_SIZE)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        """Run ``job(*args)`` (`record` or `rate`) on the writer thread; when its queue is full the job is
        dropped and counted as a failure."""
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_loop, name="dgm-records", daemon=True)
                self._writer.start()
        try:
            self._queue.put_nowait((job, args))
        except queue.Full:
            self._failed("queued", RuntimeError(f"the queue of {QUEUE_SIZE} records waiting is full"))

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            job, args = item
            try:
                job(*args)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (for at most ``timeout_s``) and stop the writer thread."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout_s)

    def _failed(self, what: str, exc: Exception) -> None:
        self.failures += 1
        # The driver's own message, not SQLAlchemy's, which appends the statement and its parameters.
        reason = str(getattr(exc, "orig", None) or exc).strip()
        log.warning("question record not %s: %s%s", what, exc.__class__.__name__,
                    f": {reason.splitlines()[0][:200]}" if reason else "")
        if self.on_failure is not None:
            self.on_failure()

    def record(self, answer: Answer, request_id: str | None = None) -> None:
        try:
            self.records.add(record_of(answer, self.masker, self.weights(), self.threshold(), request_id))
        except Exception as exc:  # noqa: BLE001 - any failure to record must leave the answer alone
            self._failed("stored", exc)

    def rate(self, session_id: str, question: str, rating: str, comment: str | None) -> None:
        try:
            self.records.rate(session_id, self.masker.mask(question.strip()) or "", rating, self.masker.mask(comment))
        except Exception as exc:  # noqa: BLE001
            self._failed("rated", exc)

