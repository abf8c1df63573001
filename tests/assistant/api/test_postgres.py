"""The feedback store on a real PostgreSQL server (`tests.pgserver`: Debian's binaries, a private cluster on
127.0.0.1): records from several threads, the migration, a refused transaction; and the service over it,
with the database stopped (as in a crash) and made read-only: 503 with the reason, readiness says so,
every acknowledged record is stored and nothing refused is."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from assistant.api.feedback import FeedbackStore
from assistant.errors import FeedbackUnavailable

pytestmark = pytest.mark.postgres

DETAIL = "feedback store unavailable, nothing was recorded"


def _record(question: str) -> dict:
    return {"session_id": "", "question": question, "answer": "a", "rating": "up"}


def test_feedback_store_on_postgresql(postgres, tmp_path: Path) -> None:
    store = FeedbackStore(postgres.url)
    try:
        before = store.count()

        def run(t: int) -> None:
            for i in range(25):
                store.write(_record(f"pg-{t}-{i}"))

        threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        mine = [r["question"] for r in store.records() if r["question"].startswith("pg-")]
        assert sorted(mine) == sorted(f"pg-{t}-{i}" for t in range(4) for i in range(25))
        for t in range(4):  # each thread's records in the order written
            assert [q for q in mine if q.startswith(f"pg-{t}-")] == [f"pg-{t}-{i}" for i in range(25)]

        with pytest.raises(FeedbackUnavailable, match="NotNullViolation|IntegrityError"):
            store.write({**_record("x"), "question": None})  # refused by the database: nothing stored
        assert store.problem() and store.count() == before + 100
        store.write(_record("after"))
        assert store.problem() is None

        legacy = tmp_path / "feedback.jsonl"
        legacy.write_text("".join(json.dumps({**_record(f"old-{i}"), "ts": "2024-01-01T00:00:00+00:00"}) + "\n"
                                  for i in range(3)))
        assert store.import_jsonl(legacy) == (3, 0)
        assert store.import_jsonl(legacy) == (0, 3)  # once only
    finally:
        store.close()


def _post(c: httpx.Client, marker: str) -> httpx.Response:
    return c.post("/api/feedback", json={"session_id": "", "question": marker, "answer": "a", "rating": "up"})


@pytest.mark.slow
def test_service_over_postgresql_stopped_and_read_only(postgres, spawn_service) -> None:
    service = spawn_service(env={"DGM_DATABASE_URL": postgres.url, "DGM_DATABASE_TIMEOUT_S": "2"},
                            ready_timeout=180)
    acknowledged: list[str] = []
    refused: list[tuple[str, str]] = []

    def send(c: httpx.Client, marker: str) -> int:
        r = _post(c, marker)
        if r.status_code == 204:
            acknowledged.append(marker)
        else:
            assert r.status_code == 503, r.text
            refused.append((marker, r.json()["detail"]))
        return r.status_code

    with httpx.Client(base_url=service.url, timeout=30) as c:
        assert [send(c, f"up-{i}") for i in range(10)] == [204] * 10
        assert c.get("/api/ready").json()["status"] == "ready"

        postgres.stop("immediate")  # the database crashes: nothing in flight, ten records acknowledged
        try:
            assert [send(c, f"down-{i}") for i in range(3)] == [503] * 3
            assert all(d.startswith(DETAIL) and "OperationalError" in d for _, d in refused), refused
            ready = c.get("/api/ready")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert any(d.startswith("feedback: the last write failed") for d in ready.json()["degraded"])
            assert c.post("/api/ask", json={"question": "Which directorate deals with NATO?"}).status_code == 200
        finally:
            postgres.start()
        assert [send(c, f"back-{i}") for i in range(5)] == [204] * 5  # used again without a restart
        assert c.get("/api/ready").json()["status"] == "ready"

        admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # the database refuses writes (a read-only replica, a full disk)
            conn.exec_driver_sql("ALTER SYSTEM SET default_transaction_read_only = on")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        try:
            assert send(c, "read-only") == 503
            assert "read-only transaction" in refused[-1][1], refused[-1]
            assert c.get("/api/ready").json()["status"] == "degraded"
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql("SET default_transaction_read_only = off")
                conn.exec_driver_sql("ALTER SYSTEM RESET default_transaction_read_only")
                conn.exec_driver_sql("SELECT pg_reload_conf()")
            admin.dispose()
        assert send(c, "writable") == 204

    store = FeedbackStore(postgres.url)
    stored = [r["question"] for r in store.records()]
    store.close()
    assert [q for q in stored if q in set(acknowledged)] == acknowledged  # every 204 stored, in order
    assert not {m for m, _ in refused} & set(stored)  # and no 503 was
    assert service.stop() == 0
