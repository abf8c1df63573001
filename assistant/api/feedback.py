"""Feedback in a database: SQLite (WAL) by default, PostgreSQL by URL, through SQLAlchemy Core.

One transaction per record, committed (and, on SQLite, fsynced: ``synchronous=FULL``) before the client
hears 204; a write that fails raises `FeedbackUnavailable` and the client hears 503, so nothing is
acknowledged that was not stored, and a failed transaction leaves the records before it as they were.

SQLAlchemy rather than the two drivers by hand: one table definition and one insert for both databases,
URLs in the form operators know, a connection pool that checks a PostgreSQL connection before use
(``pool_pre_ping``), so a restarted database is used again without restarting the service.

`import_jsonl` moves the records of the former JSON Lines file (and its rotations) into the database, once:
each line is keyed by its hash, so running it again adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.schema import CreateTable

from ..errors import FeedbackUnavailable

log = logging.getLogger(__name__)

metadata = MetaData()
feedback_table = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", String(40), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("rating", String(8), nullable=False),
    Column("comment", Text, nullable=True),
    Column("request_id", String(128), nullable=True),
    # sha256 of the JSON line a record was imported from (None for records posted to the service).
    Column("source_hash", String(64), nullable=True, unique=True),
)
FIELDS = ("ts", "session_id", "question", "answer", "rating", "comment", "request_id")
MASKED_FIELDS = ("question", "answer", "comment")  # what a visitor typed or was shown: masked before storing


# What SQLite's codes mean for an operator (sqlite3 errors carry `sqlite_errorname` since Python 3.11).
_SQLITE_MEANING = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR_WRITE": "writing the database failed: the disk is full or a file-size limit was reached",
    "SQLITE_READONLY": "the database is read-only",
    "SQLITE_CANTOPEN": "the database file cannot be opened or created (a read-only or missing folder)",
    "SQLITE_BUSY": "the database stayed locked by another writer",
}


def _describe(exc: BaseException) -> str:
    """A short, client-safe reason of a database error (no SQL, no parameters, no paths)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    reason = f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
    code = getattr(orig, "sqlite_errorname", None)
    meaning = _SQLITE_MEANING.get(code or "") or next(
        (m for c, m in _SQLITE_MEANING.items() if code and code.startswith(c + "_")), None)
    if meaning:
        reason = f"{meaning}; {reason} [{code}]"
    return reason[:240]


def make_engine(url: str, timeout_s: float = 5.0) -> Engine:
    """The engine of a SQLAlchemy URL; SQLite gets WAL, full fsync and a busy timeout, its folder made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a read-only location: the service starts, writes get 503 (see `problem`)
                log.error("feedback database folder cannot be made: %s", exc)
        engine = create_engine(parsed, connect_args={"timeout": timeout_s})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; several workers share it
            cur.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at each commit: a 204 survives power loss
            cur.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=timeout_s,
                             connect_args={"connect_timeout": max(1, int(timeout_s)),
                                           "options": f"-c statement_timeout={int(timeout_s * 1000)}"})
    return create_engine(parsed, pool_pre_ping=True)


class FeedbackStore:
    """Stores feedback records in the database at ``url``; the table is made on first use.

    Args:
        url: a SQLAlchemy URL (``sqlite:///var/dgm.db``, ``postgresql+psycopg://user:pw@host/db``).
        timeout_s: how long a write may wait for the database (a lock, a connection).
    """

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = make_url(url)
        self.engine = make_engine(url, timeout_s)
        self._schema_ready = False
        self._lock = threading.Lock()
        self._last_error: str | None = None

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            with self._lock:
                if not self._schema_ready:
                    # IF NOT EXISTS in one statement: several workers may start on a new database at once.
                    with self.engine.begin() as conn:
                        conn.execute(CreateTable(feedback_table, if_not_exists=True))
                    self._schema_ready = True

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store one record (a ``ts`` timestamp is added unless present) in its own transaction.

        Returns:
            The record as stored.

        Raises:
            FeedbackUnavailable: the database refused or could not be reached; nothing was stored.
        """
        row = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        try:
            self._ensure_schema()
            with self.engine.begin() as conn:  # commit on leaving, rollback on an error
                conn.execute(insert(feedback_table).values({k: row.get(k) for k in FIELDS}))
        except (SQLAlchemyError, OSError) as exc:
            self._last_error = _describe(exc)
            log.error("feedback not stored: %s", self._last_error)
            raise FeedbackUnavailable(f"feedback store unavailable, nothing was recorded ({self._last_error})") \
                from exc
        self._last_error = None
        return row

    def problem(self) -> str | None:
        """Why the store cannot take a write now, as far as is known without writing: a SQLite file or
        folder the OS will not let this process write, else the last write's error (until one succeeds)."""
        if self.url.get_backend_name() == "sqlite" and self.url.database not in (None, "", ":memory:"):
            import os

            # Names, not locations: readiness is public. Both the file and its folder (SQLite writes its
            # -wal and -shm files beside the database).
            path = Path(self.url.database).expanduser()
            if not path.parent.is_dir():
                return f"the folder of the database {path.name} does not exist and cannot be made"
            if path.exists() and not os.access(path, os.W_OK):
                return f"the database file {path.name} is read-only"
            if not os.access(path.parent, os.W_OK | os.X_OK):
                return f"the folder of the database {path.name} is read-only"
        if self._last_error is not None:
            return f"the last write failed ({self._last_error})"
        return None

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first (for tests and exports)."""
        self._ensure_schema()
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback_table).order_by(feedback_table.c.id)).mappings().all()
        return [{k: r[k] for k in ("id", *FIELDS)} for r in rows]

    def count(self) -> int:
        self._ensure_schema()
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(feedback_table)).scalar_one())

    def import_jsonl(self, path: Path, mask: Callable[[str | None], str | None] = lambda t: t) -> tuple[int, int]:
        """Import the records of a JSON Lines feedback file and its rotations (oldest first).

        Args:
            path: the file (its rotations .1, .2 ... come too).
            mask: applied to each record's question, answer and comment before it is stored (the service
                masks personal data, `assistant.privacy.Masker.mask`).

        Returns:
            (records added, records already there).
        """
        self._ensure_schema()
        added = skipped = 0
        for line in jsonl_lines(path):
            record = json.loads(line)
            values = {k: record.get(k) for k in FIELDS}
            values["session_id"] = values["session_id"] or ""
            for k in MASKED_FIELDS:
                values[k] = mask(values[k])
            values["ts"] = values["ts"] or datetime.now(UTC).isoformat(timespec="milliseconds")
            values["source_hash"] = hashlib.sha256(line.encode("utf-8")).hexdigest()
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(feedback_table).values(values))
                added += 1
            except IntegrityError:
                skipped += 1
        return added, skipped

    def close(self) -> None:
        self.engine.dispose()


def jsonl_files(path: Path) -> list[Path]:
    """The JSON Lines file and its rotations (``.1`` newest ... ``.N`` oldest), oldest first."""
    path = Path(path)
    pattern = re.compile(re.escape(path.name) + r"\.(\d+)$")
    rotated = sorted(((int(m.group(1)), p) for p in path.parent.glob(path.name + ".*")
                      if (m := pattern.match(p.name))), reverse=True)
    return [p for _, p in rotated] + ([path] if path.exists() else [])


def jsonl_lines(path: Path) -> Iterator[str]:
    for f in jsonl_files(path):
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield line.rstrip("\n")
