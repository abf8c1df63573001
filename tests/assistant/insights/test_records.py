"""Question records: the decline reason from the scope model, masking, rating, retention purge, CSV, failures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from assistant.api.feedback import FeedbackStore, make_engine
from assistant.insights import (
    COLUMNS,
    QuestionRecord,
    QuestionRecords,
    Reason,
    Recorder,
    decline_reason,
    record_of,
    to_csv,
)
from assistant.insights.records import session_key
from assistant.privacy import Masker
from assistant.scope import FEATURES, ScopeDecision, ScopeWeights

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _record(question: str, ts: datetime, session: str = "s" * 16, **extra) -> QuestionRecord:
    values = dict(ts=ts.replace(tzinfo=None), session_key=session_key(session), request_id=None,
                  question=question, language="en", decision="answered", reason=None, kind="policy", unit="M1",
                  confidence=0.9, followup=False, nearest_doc=None, nearest_passage=None)
    return QuestionRecord(**{**values, **extra})


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'dgm.db'}"


@pytest.fixture
def records(db_url) -> QuestionRecords:
    return QuestionRecords(make_engine(db_url), retention_days=90)


def _decision(**features: float) -> ScopeDecision:
    return ScopeDecision(probability=0.01, features={k: features.get(k, 0.0) for k in FEATURES},
                         question_type="description")


@pytest.mark.parametrize("features, reason", [
    ({"off_kind": 1.0, "dense_max": 0.4}, Reason.OFF_TOPIC),
    ({"service": 1.0, "dense_max": 0.5}, Reason.OFF_TOPIC),
    ({"fact_missing": 1.0, "dense_max": 0.6}, Reason.UNANSWERABLE_KIND),
    ({"person": 0.9, "dense_max": 0.6}, Reason.UNANSWERABLE_KIND),
    ({"dense_max": 0.2, "profile_max": 0.2}, Reason.NO_PASSAGE),
    # close passages, but the question model finds it reads like the off-topic questions: without that
    # verdict the score would have passed the threshold
    ({"dense_max": 0.5, "profile_max": 0.4, "question_model": -3.0}, Reason.OFF_TOPIC),
    # the question model is against it, yet even without it the passages are too far: no passage
    ({"dense_max": 0.1, "question_model": -0.5}, Reason.NO_PASSAGE),
])
def test_the_decline_reason_is_the_scope_models_signal(features, reason):
    weights = ScopeWeights(weights={**ScopeWeights().weights, "question_model": 1.0})
    assert decline_reason(_decision(**features), weights, threshold=0.5) is reason


def test_a_real_declined_answer_makes_a_masked_record_with_its_reason(assistant):
    answer = assistant.ask("What will the weather be like in Brussels tomorrow? Text me on 0475 12 34 56",
                           trace=True)
    assert answer.abstained
    record = record_of(answer, Masker(), assistant.scope_weights, 0.5, request_id="r1", now=NOW)
    assert record.question == "What will the weather be like in Brussels tomorrow? Text me on [PHONE]"
    assert record.decision == "declined" and record.reason in {r.value for r in Reason}
    assert record.kind == answer.trace.scope.question_type and record.unit is None
    assert record.nearest_doc and record.nearest_passage and record.confidence == answer.in_scope
    assert record.session_key != answer.session_id and len(record.session_key) == 64


def test_a_real_answered_question_records_its_unit(assistant):
    answer = assistant.ask("Which directorate deals with NATO?", trace=True)
    record = record_of(answer, Masker(), assistant.scope_weights, 0.5)
    assert record.decision == "answered" and record.reason is None
    assert record.unit == answer.directorate.code


def test_purge_removes_what_is_older_than_the_retention_and_keeps_the_rest(records, db_url):
    for days, q in ((120, "old"), (91, "just too old"), (89, "still kept"), (0, "today")):
        records.add(_record(q, NOW - timedelta(days=days)))
    feedback = FeedbackStore(db_url)
    for days, q in ((100, "old feedback"), (10, "recent feedback")):
        feedback.write({"ts": (NOW - timedelta(days=days)).isoformat(timespec="milliseconds"), "session_id": "",
                        "question": q, "answer": "a", "rating": "down", "comment": None, "request_id": None})
    assert records.purge(now=NOW) == (2, 1)
    assert [r["question"] for r in records.rows()] == ["still kept", "today"]
    assert [r["question"] for r in feedback.records()] == ["recent feedback"]
    assert records.purge(now=NOW) == (0, 0)


def test_retention_must_be_positive(records):
    with pytest.raises(ValueError, match="retention_days must be at least 1, got 0"):
        QuestionRecords(records.engine, 0)


def test_a_rating_lands_on_the_latest_record_of_its_session_and_question(records):
    recorder = Recorder(records, Masker(), ScopeWeights, lambda: 0.5)
    session = "abcdefgh12345678"
    records.add(_record("Call [PHONE] about NATO", NOW - timedelta(minutes=2), session))
    records.add(_record("Call [PHONE] about NATO", NOW - timedelta(minutes=1), session))
    records.add(_record("Call [PHONE] about NATO", NOW, "another-session-1"))
    recorder.rate(session, "  Call 0475 12 34 56 about NATO ", "down", "wrong, mail x@y.be")
    rated = [(r["session_key"][:6], r["rating"], r["comment"]) for r in records.rows()]
    assert [r[1:] for r in rated] == [(None, None), ("down", "wrong, mail [EMAIL]"), (None, None)]
    assert not records.rate("unknown-session-1", "Call [PHONE] about NATO", "up", None)


def test_a_failed_write_is_logged_and_counted_never_raised(tmp_path, caplog, assistant):
    folder = tmp_path / "dgm.db"
    folder.mkdir()  # a folder where the database file should be: SQLite cannot open it
    broken = QuestionRecords(make_engine(f"sqlite:///{folder}"), 90)
    counted = []
    recorder = Recorder(broken, Masker(), lambda: assistant.scope_weights, lambda: 0.5,
                        on_failure=lambda: counted.append(1))
    answer = assistant.ask("Which directorate deals with NATO? my mail is jan@example.be", trace=True)
    recorder.record(answer)
    recorder.rate("abcdefgh12345678", "q", "up", None)
    assert recorder.failures == 2 and counted == [1, 1]
    assert "question record not stored" in caplog.text and "jan@example.be" not in caplog.text


def test_csv_has_every_field_and_iso_times(records):
    records.add(_record('He said "hi", twice', NOW))
    rows = list(csv.DictReader(io.StringIO(to_csv(records.rows()))))
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["question"] == 'He said "hi", twice' and rows[0]["ts"].startswith("2026-12-01T12:00:00")


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_stay_text(records):
    for i, q in enumerate(('=HYPERLINK("http://x.example","click")', "+1+1", "@SUM(A1)", "-2+3")):
        records.add(_record(q, NOW + timedelta(seconds=i)))
    rows = list(csv.DictReader(io.StringIO(to_csv(records.rows()))))
    assert sorted(r["question"] for r in rows) == sorted(
        ["'=HYPERLINK(\"http://x.example\",\"click\")", "'+1+1", "'@SUM(A1)", "'-2+3"])


def test_a_first_answer_and_its_rating_share_one_conversation_key():
    """A first answer's session_id is a token (id + signed context); a rating sends its id part only."""
    from assistant.insights.records import session_key

    token = "0123456789abcdef0123456789abcdef.eyJxIjoiYSJ9.c2ln"
    assert session_key(token) == session_key("0123456789abcdef0123456789abcdef")


def test_submitted_jobs_run_in_order_on_one_writer_and_a_full_queue_drops_and_counts(records):
    """The route hands records over and returns; the writer keeps their order (a rating after its record),
    and when the database is too slow the queue's bound drops new ones, counted, instead of growing."""
    import threading

    from assistant.insights import records as module

    done: list[int] = []
    gate = threading.Event()
    counted: list[int] = []
    recorder = Recorder(records, Masker(), lambda: None, lambda: 0.5,  # type: ignore[arg-type]
                        on_failure=lambda: counted.append(1))
    recorder._queue = module.queue.Queue(3)
    busy = threading.Event()
    recorder.submit(lambda: (busy.set(), gate.wait(5)))  # the writer is busy with this one
    assert busy.wait(5)
    for i in range(6):
        recorder.submit(done.append, i)
    gate.set()
    recorder.close()
    assert done == sorted(done) and len(done) == 3 and len(counted) == 3
