"""`dgm-assistant report` and `dgm-assistant purge` on a database of question records."""

from __future__ import annotations

import csv
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from assistant.api.feedback import FeedbackStore, make_engine
from assistant.insights import QuestionRecord, QuestionRecords
from assistant.insights.records import session_key
from tests.helpers import clean_env, cli_command

pytestmark = pytest.mark.slow


def _run(*args: str, db: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cli_command(), *args], capture_output=True, text=True, timeout=300,
                          env=clean_env(DGM_DATABASE_URL=db, COLUMNS="200", **env))


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'dgm.db'}"
    records = QuestionRecords(make_engine(url), 90)
    now = datetime.now(UTC)
    for i, (days, lang, decision, unit) in enumerate([(0, "en", "answered", "M1"), (0, "fr", "declined", None),
                                                      (1, "nl", "answered", "M2"), (200, "de", "declined", None)]):
        records.add(QuestionRecord(
            ts=(now - timedelta(days=days)).replace(tzinfo=None), session_key=session_key(f"session-{i:04d}"),
            request_id=None, question=f"question {i} for [EMAIL]", language=lang, decision=decision,
            reason="off_topic" if decision == "declined" else None, kind="policy", unit=unit, confidence=0.5,
            followup=i == 2, nearest_doc=None, nearest_passage=None))
    FeedbackStore(url).write({"session_id": "", "question": "why 0475 12 34 56?", "answer": "because",
                              "rating": "down", "comment": "not helpful", "request_id": None})
    return url


def test_report_prints_tables_and_writes_html_and_csv(db, tmp_path):
    html, table = tmp_path / "out" / "report.html", tmp_path / "out" / "records.csv"
    proc = _run("report", "--no-topics", "--html", str(html), "--csv", str(table), db=db)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "4 questions (2 answered, 2 declined; 25% follow-ups)" in out
    for heading in ("Questions per day", "Questions per language", "Answered questions per unit",
                    "Why questions were declined", "Answers visitors disliked"):
        assert heading in out
    assert "why [PHONE]?" in out and "0475" not in out  # feedback from before masking is masked on its way out
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "<script" not in page
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == 4 and rows[0]["language"] == "de"  # oldest first


def test_report_of_the_last_days_only(db):
    proc = _run("report", "--no-topics", "--days", "30", db=db)
    assert proc.returncode == 0 and "3 questions" in proc.stdout


def test_report_on_an_unreachable_database_says_so_without_a_traceback(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    proc = _run("report", "--no-topics", db=f"sqlite:///{folder}")
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_purge_keeps_the_retention_and_all_deletes_everything(db):
    proc = _run("purge", db=db)
    assert proc.returncode == 0 and "deleted 1 question records and 0 feedback records" in proc.stdout
    proc = _run("purge", "--retention-days", "1", db=db)
    assert "deleted 1 question records" in proc.stdout  # yesterday's
    proc = _run("purge", "--all", db=db, DGM_RETENTION_DAYS="90")
    assert "deleted 2 question records and 1 feedback records (nothing kept)" in proc.stdout
    assert QuestionRecords(make_engine(db), 90).rows() == []


def test_a_bad_retention_is_refused_with_its_rule(db):
    proc = _run("purge", db=db, DGM_RETENTION_DAYS="0")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "retention_days" in proc.stderr
