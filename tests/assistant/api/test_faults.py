"""Faults a public service meets, for real: Redis stopped and killed under load, a full feedback database,
slow and oversized clients, SIGTERM under load, a damaged index folder; and the bounds and identities
behind them (session ids, session sizes, trusted proxies, the feedback database and its migration).

Each test asserts what the client received and, where feedback is posted, that every acknowledged record
is stored. Loops are bounded in count and time; servers bind 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.api import create_app
from assistant.api.feedback import FeedbackStore
from assistant.api.server import uvicorn_options
from assistant.models import Turn
from assistant.sessions import MemorySessionStore, RedisSessionStore, new_session_id, session_key
from tests.helpers import free_port, serve_in_thread

NATO = "Which directorate deals with NATO?"
FOLLOW_UP = "What about cyber?"
QUESTIONS = [NATO, "Which directorate handles cyber issues?", "Who deals with counter-terrorism?",
             "Tell me about disarmament and non-proliferation"]


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("dgm-assistant")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


@contextlib.contextmanager
def own_redis(redis_binary: str, workdir: Path, port: int | None = None,
              persist: bool = False) -> Iterator[tuple[str, subprocess.Popen]]:
    """A private redis-server this test may stop, kill and restart: (url, process). ``persist``: with the
    append-only file the README's operations section recommends, fsynced at every write."""
    import redis

    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    aof = ["--appendonly", "yes", "--appendfsync", "always"] if persist else ["--appendonly", "no"]
    proc = subprocess.Popen([redis_binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             *aof, "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)
    client.close()
    try:
        yield url, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=10)


async def _ask_until(url: str, stop: asyncio.Event, concurrency: int, limit_s: float,
                     session_id: str | None = None,
                     sent: list[tuple[float, int]] | None = None) -> list[tuple[int, dict | str]]:
    """Ask questions ``concurrency`` at a time until ``stop`` (or ``limit_s``); (status, body) each, and in
    ``sent`` (when given) each request's send time (`time.monotonic`) with its status."""
    out: list[tuple[int, dict | str]] = []
    deadline = time.monotonic() + limit_s

    async def worker(client: httpx.AsyncClient, w: int) -> None:
        i = 0
        while not stop.is_set() and time.monotonic() < deadline and len(out) < 5000:
            body: dict = {"question": QUESTIONS[(w + i) % len(QUESTIONS)]}
            if session_id and i % 2:
                body = {"question": FOLLOW_UP, "session_id": session_id}
            i += 1
            t = time.monotonic()
            try:
                r = await client.post("/api/ask", json=body)
                out.append((r.status_code, r.json() if r.status_code == 200 else r.text[:300]))
            except httpx.HTTPError as exc:
                out.append((0, repr(exc)))
            if sent is not None:
                sent.append((t, out[-1][0]))

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(worker(client, w) for w in range(concurrency)))
    return out


async def _probe(url: str, path: str, stop: asyncio.Event, limit_s: float) -> list[tuple[int, float, str]]:
    """GET ``path`` every 50 ms on its own connection until ``stop``: (status, seconds, body)."""
    out: list[tuple[int, float, str]] = []
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not stop.is_set() and time.monotonic() < deadline and len(out) < 2000:
            t0 = time.perf_counter()
            try:
                r = await client.get(path)
                out.append((r.status_code, time.perf_counter() - t0, r.text))
            except httpx.HTTPError as exc:
                out.append((0, time.perf_counter() - t0, repr(exc)))
            await asyncio.sleep(0.05)
    return out


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+]+)"
    found = re.findall(pattern, text)
    return sum(float(v) for v in found)


# -- sessions: ids and bounds -------------------------------------------------------------------------------
def test_session_ids_are_128_random_bits() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_memory_sessions_are_bounded_in_bytes_as_well_as_count() -> None:
    store = MemorySessionStore(max_sessions=1000, ttl_s=60, max_turns=4, max_bytes=20_000, max_session_bytes=4000)
    big = "é" * 2000  # 4,000 bytes: more than a turn's share (1,000 bytes) of a conversation
    for i in range(100):
        store.append(f"s{i:03d}", Turn(big, big, "topic", "M1", False))
    assert store.bytes <= 20_000 and 10 <= len(store) < 100  # the oldest went first
    assert store.history("s000") == [] and store.history("s099")
    kept = store.history("s099")[0]
    assert kept.topic == "topic" and kept.directorate == "M1" and len(kept.question.encode()) < 1000
    for i in range(10):  # one conversation: its last turns only
        store.append("long", Turn(f"q{i}", f"q{i}", "t", None, False))
    assert [t.question for t in store.history("long")] == ["q6", "q7", "q8", "q9"]
    with pytest.raises(ValueError, match="max_session_bytes"):
        MemorySessionStore(max_bytes=2048, max_session_bytes=4096)


def test_memory_sessions_expire_after_their_ttl() -> None:
    now = [0.0]
    store = MemorySessionStore(ttl_s=60, timer=lambda: now[0])
    store.append("kept", Turn("q", "q", "t", None, False), first=Turn("p", "p", "t", None, False))
    now[0] = 59.0
    store.append("kept", Turn("r", "r", "t", None, False))  # a turn refreshes the TTL
    now[0] = 118.0
    assert [t.question for t in store.history("kept")] == ["p", "q", "r"]
    now[0] = 120.0
    assert store.history("kept") == [] and len(store) == 0


@pytest.mark.redis
def test_redis_conversations_are_bounded_in_turns_bytes_and_time(redis_url: str) -> None:
    import redis

    store = RedisSessionStore(redis_url, ttl_s=600, max_turns=3, max_session_bytes=3000, prefix="dgm:bounds:")
    r = redis.Redis.from_url(redis_url)
    two = new_session_id()
    store.append(two, Turn("x" * 5000, "y" * 5000, "cyber", "M4", False), first=Turn(NATO, NATO, "nato", "M1", False))
    assert 590 < r.ttl(f"dgm:bounds:{two}") <= 600
    assert all(len(raw) <= 1000 for raw in r.lrange(f"dgm:bounds:{two}", 0, -1))  # 3000 bytes / 3 turns
    assert [t.topic for t in store.history(two)] == ["nato", "cyber"]
    store.append(two, Turn("q", "q", "t", None, False), first=Turn("again", "again", "t", None, False))
    assert [t.question for t in store.history(two)][0] == NATO  # a stored conversation keeps its first turn
    for _ in range(5):
        store.append(two, Turn("q", "q", "t", None, False))
    assert r.llen(f"dgm:bounds:{two}") == 3
    r.close()


@pytest.mark.redis
def test_a_first_turn_writes_nothing_and_any_replica_continues_it(assistant, redis_url: str) -> None:
    """Two replicas (one engine, two assistants sharing Redis and the secret): questions asked once leave no
    key; the second turn, on the other replica, finds the first's context in its token and stores both."""
    import redis

    from assistant.pipeline import NOTICE_UNKNOWN, Assistant
    from assistant.sessions import FirstTurnTokens, session_key

    prefix = f"dgm:replicas-{new_session_id()[:8]}:"

    def replica(secret: str = "shared", ttl_s: float = 600) -> Assistant:
        return Assistant(assistant.engine, assistant.options, tokens=FirstTurnTokens(secret, ttl_s=ttl_s),
                         sessions=RedisSessionStore(redis_url, ttl_s=600, max_turns=4, prefix=prefix))

    a, b = replica(), replica()
    r = redis.Redis.from_url(redis_url)
    firsts = [a.ask(q) for q in QUESTIONS * 5]
    assert r.keys(prefix + "*") == []  # twenty questions asked once: nothing stored
    assert len({session_key(f.session_id) for f in firsts}) == len(firsts)
    assert all(len(f.session_id) < 1200 for f in firsts)  # bounded by session_token_bytes

    second = b.ask(FOLLOW_UP, session_id=firsts[0].session_id)
    assert second.is_followup and second.notice is None and second.directorate.code == "M4"
    key = session_key(firsts[0].session_id)
    assert second.session_id == key and r.keys(prefix + "*") == [(prefix + key).encode()]
    assert r.llen(prefix + key) == 2 and 590 < r.ttl(prefix + key) <= 600
    third = a.ask("Does it also deal with space?", session_id=firsts[0].session_id)  # the first id, kept
    assert third.is_followup and third.session_id == key and r.llen(prefix + key) == 3

    for refused in (replica(secret="another"), replica(ttl_s=1e-9)):  # not issued here; expired
        alone = refused.ask(FOLLOW_UP, session_id=firsts[1].session_id)
        assert alone.notice == NOTICE_UNKNOWN and not alone.is_followup
        assert session_key(alone.session_id) != session_key(firsts[1].session_id)
    assert len(r.keys(prefix + "*")) == 1
    tampered = firsts[1].session_id[:40] + ("A" if firsts[1].session_id[40] != "A" else "B") + firsts[1].session_id[41:]
    assert a.ask(FOLLOW_UP, session_id=tampered).notice == NOTICE_UNKNOWN
    r.delete(prefix + key)
    r.close()


def test_memory_store_keeps_no_first_turn(assistant) -> None:
    from assistant.pipeline import Assistant

    store = MemorySessionStore(max_sessions=100, ttl_s=60)
    mine = Assistant(assistant.engine, assistant.options, sessions=store)
    first = mine.ask(NATO)
    assert len(store) == 0 and store.bytes == 0
    second = mine.ask(FOLLOW_UP, session_id=first.session_id)
    assert second.is_followup and len(store) == 1 and [t.topic for t in store.history(second.session_id)][0]


@pytest.mark.redis
def test_conversations_survive_a_redis_restart_with_the_append_only_file(assistant, redis_binary: str,
                                                                        tmp_path: Path) -> None:
    """Redis as the README's operations section sets it (appendonly yes): killed (SIGKILL, no save) and
    started again on the same folder and port, it still has the conversation, and the follow-up continues."""
    from assistant.pipeline import Assistant
    from assistant.sessions import FirstTurnTokens

    def replica(url: str) -> Assistant:
        return Assistant(assistant.engine, assistant.options, tokens=FirstTurnTokens("persist"),
                         sessions=RedisSessionStore(url, ttl_s=600, retry_s=0.1))

    with own_redis(redis_binary, tmp_path / "aof", persist=True) as (url, proc):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        first = replica(url).ask(NATO)
        second = replica(url).ask(FOLLOW_UP, session_id=first.session_id)
        assert second.is_followup and second.session_id == session_key(first.session_id)  # stored now
        proc.kill()
        proc.wait(timeout=10)
    with own_redis(redis_binary, tmp_path / "aof", port=port, persist=True) as (url, _):
        third = replica(url).ask("Does it also deal with space?", session_id=second.session_id)
        assert third.notice is None and third.is_followup and third.session_id == second.session_id
        kept = RedisSessionStore(url).history(second.session_id)
        assert [t.question for t in kept] == [NATO, FOLLOW_UP, "Does it also deal with space?"]


# -- trusted proxies ----------------------------------------------------------------------------------------
_serve_options = serve_in_thread  # the app on real uvicorn in a thread, with the service's own options


@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(settings, assistant, trusted) -> None:
    """Each client address gets 2 questions a minute. From a peer that is not a trusted proxy, X-Forwarded-For
    is ignored: the third question is refused whatever address the header claims."""
    s = settings.model_copy(update={"rate_limit": "2/minute", "watch_index_s": 0, "trusted_proxies": trusted})
    proxy = {k: v for k, v in uvicorn_options(s).items() if k in ("proxy_headers", "forwarded_allow_ips")}
    with _serve_options(create_app(s, assistant=assistant), **proxy) as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        statuses = [c.post("/api/ask", json={"question": NATO},
                           headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(3)]
    assert statuses == ([200, 200, 429] if not trusted else [200, 200, 200])


# -- the feedback database ----------------------------------------------------------------------------------
def test_feedback_database_is_sqlite_wal_and_the_migration_runs_once(tmp_path: Path) -> None:
    legacy = tmp_path / "feedback.jsonl"
    lines = [{"ts": f"2024-01-0{i}T00:00:00.000+00:00", "session_id": "abcdefgh", "question": f"q{i}",
              "answer": "a", "rating": "up", "comment": "é\u2028x", "request_id": "r"} for i in range(1, 4)]
    lines[2]["comment"] = "write to jan.peeters@example.be"  # personal data is masked on the way in too
    legacy.with_name("feedback.jsonl.1").write_text(json.dumps(lines[0], ensure_ascii=True) + "\n")
    legacy.write_text("".join(json.dumps(x, ensure_ascii=True) + "\n" for x in lines[1:]))
    url = f"sqlite:///{tmp_path / 'db' / 'dgm.db'}"
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[3])}
    for expected in ("imported 3 records from 2 file(s)", "imported 0 records from 2 file(s)"):
        done = subprocess.run([*_cli(), "migrate-feedback", "--from", str(legacy), "--database", url],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0 and expected in " ".join(done.stdout.split()), done.stdout + done.stderr
    store = FeedbackStore(url)
    store.write({"session_id": "", "question": "new", "answer": "a", "rating": "down"})
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert [r["question"] for r in store.records()] == ["q1", "q2", "q3", "new"]  # the rotation first
    assert store.records()[0]["comment"] == "é\u2028x"
    assert store.records()[2]["comment"] == "write to [EMAIL]"
    store.close()
    missing = subprocess.run([*_cli(), "migrate-feedback", "--from", str(tmp_path / "none.jsonl"),
                              "--database", url], capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 2 and "no feedback file" in missing.stderr


_WRITER = """
import sys, threading
from assistant.api.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
def run(t):
    for i in range(25):
        store.write({"session_id": "", "question": f"{sys.argv[2]}:{t}:{i}", "answer": "a", "rating": "up"})
threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_feedback_from_several_processes_is_all_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dgm.db'}"
    root = str(Path(__file__).parents[3])
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, str(p)], cwd=root) for p in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    store = FeedbackStore(url)
    questions = [r["question"] for r in store.records()]
    store.close()
    assert len(questions) == len(set(questions)) == 400
    for p in range(4):  # each thread's records in the order written
        for t in range(4):
            mine = [q for q in questions if q.startswith(f"{p}:{t}:")]
            assert mine == [f"{p}:{t}:{i}" for i in range(25)]


@pytest.mark.slow
def test_a_full_feedback_database_refuses_with_503_and_loses_nothing(spawn_service) -> None:
    """Once loaded, the server process may write files of 256 KiB at most (RLIMIT_FSIZE set with prlimit,
    as a full disk or a quota would): once the database cannot grow, feedback gets 503 naming the store,
    every 204 is in the database, and /api/ready stays 200 saying feedback is refused; questions are still
    answered."""
    service = spawn_service()
    resource.prlimit(service.proc.pid, resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    acknowledged: list[str] = []
    refused: list[str] = []
    with httpx.Client(base_url=service.url, timeout=30) as c:
        for i in range(400):
            marker = f"full-{i}"
            r = c.post("/api/feedback", json={"session_id": "", "question": marker, "answer": "a" * 4000,
                                              "rating": "up", "comment": "c" * 2000})
            if r.status_code == 204:
                acknowledged.append(marker)
            else:
                assert r.status_code == 503, r.text
                refused.append(r.json()["detail"])
                if len(refused) >= 5:
                    break
        assert acknowledged and len(refused) == 5, (len(acknowledged), refused, service.log())
        assert all(d.startswith("feedback store unavailable, nothing was recorded") for d in refused), refused
        assert all("the disk is full or a file-size limit was reached" in d for d in refused), refused
        ready = c.get("/api/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert any(d.startswith("feedback:") for d in ready.json()["degraded"]), ready.json()
        assert c.post("/api/ask", json={"question": NATO}).status_code == 200
    stored = {r["question"] for r in service.feedback_records()}
    assert set(acknowledged) <= stored  # every acknowledged record is there ...
    assert len(stored - set(acknowledged)) == 0  # ... and nothing refused was stored
    assert service.stop() == 0
    _assert_whole(service.database_url, len(acknowledged))


def _assert_whole(url: str, count: int) -> None:
    """The SQLite database is intact and holds ``count`` complete records (no torn one)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT question, answer, rating, ts FROM feedback").fetchall()
    assert len(rows) == count and all(q and a and r in ("up", "down") and t for q, a, r, t in rows)


def _subject_to_permissions() -> list[str]:
    """A command prefix under which the OS enforces file permissions on this process: root bypasses them
    (CAP_DAC_OVERRIDE and friends), so as root the capabilities are dropped from the bounding set with
    util-linux's setpriv; as another user nothing is needed."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is missing: it makes a root test process obey file permissions")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


@pytest.mark.slow
def test_a_read_only_feedback_database_refuses_with_503_and_loses_nothing(spawn_service, tmp_path: Path) -> None:
    """The database file and its folder are read-only for the server's process (the OS refuses, even to
    root: see `_subject_to_permissions`): readiness says so from the start, feedback gets 503 naming the
    reason, the records already there are untouched and questions are still answered."""
    folder = tmp_path / "ro"
    url = f"sqlite:///{folder / 'dgm.db'}"
    store = FeedbackStore(url)
    for i in range(3):
        store.write({"session_id": "", "question": f"before-{i}", "answer": "a", "rating": "up"})
    store.close()
    for name in ("dgm.db", "dgm.db-wal", "dgm.db-shm"):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).chmod(0o444)
    folder.chmod(0o555)
    try:
        service = spawn_service(env={"DGM_DATABASE_URL": url}, prefix=_subject_to_permissions(), ready_timeout=180)
        with httpx.Client(base_url=service.url, timeout=30) as c:
            ready = c.get("/api/ready").json()
            assert ready["status"] == "degraded", ready
            assert "feedback: the database file dgm.db is read-only; feedback is refused with 503" in ready["degraded"]
            assert str(tmp_path) not in json.dumps(ready)  # names, never locations
            for i in range(3):
                r = c.post("/api/feedback", json={"session_id": "", "question": f"after-{i}", "answer": "a",
                                                  "rating": "down"})
                assert r.status_code == 503, r.text
                detail = r.json()["detail"]
                assert detail.startswith("feedback store unavailable, nothing was recorded"), detail
                assert "read-only" in detail or "cannot be opened or created" in detail, detail
                assert str(tmp_path) not in detail
            assert c.post("/api/ask", json={"question": NATO}).status_code == 200
        assert service.stop() == 0
    finally:
        folder.chmod(0o755)
    store = FeedbackStore(url)
    assert [r["question"] for r in store.records()] == ["before-0", "before-1", "before-2"]
    store.close()
    _assert_whole(url, 3)


# -- Redis stopped and killed under load ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.redis
def test_redis_stopped_then_killed_under_load(spawn_service, redis_binary: str, tmp_path: Path) -> None:
    with own_redis(redis_binary, tmp_path / "redis") as (url, redis_proc):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        service = spawn_service(env={"DGM_SESSION_URL": url, "DGM_REDIS_RETRY_S": "0.5",
                                     "DGM_RATE_LIMIT": "100000/minute"}, ready_timeout=180)
        with httpx.Client(base_url=service.url, timeout=30) as c:
            first = c.post("/api/ask", json={"question": NATO}).json()
            assert first["notice"] is None
            token = first["session_id"]  # a first turn's token: nothing in Redis yet
            sid = c.post("/api/ask", json={"question": FOLLOW_UP, "session_id": token}).json()["session_id"]
            assert sid == session_key(token)  # continued: stored in Redis under the token's id
            assert c.get("/api/ready").json()["status"] == "ready"

        async def phase(fault) -> tuple[list, list, list]:
            stop = asyncio.Event()
            load = asyncio.create_task(_ask_until(service.url, stop, 4, 40, session_id=sid))
            health = asyncio.create_task(_probe(service.url, "/api/health", stop, 40))
            ready = asyncio.create_task(_probe(service.url, "/api/ready", stop, 40))
            await asyncio.sleep(0.5)
            await fault()
            stop.set()
            return await load, await health, await ready

        async def stopped() -> None:
            redis_proc.send_signal(signal.SIGSTOP)
            await asyncio.sleep(3)

        t0 = time.monotonic()
        asked, health, ready = asyncio.run(phase(stopped))
        assert time.monotonic() - t0 < 20
        assert asked and all(s == 200 for s, _ in asked), [a for a in asked if a[0] != 200][:3]
        assert max(t for _, t, _ in health) < 1.0, "the event loop was blocked while Redis was stopped"
        assert all(s == 200 for s, _, _ in health + ready)
        assert any('"degraded"' in body for _, _, body in ready)
        followups = [b for _, b in asked if isinstance(b, dict) and b["notice"]]
        assert followups and all(b["is_followup"] is False and b["session_id"] != sid for b in followups)
        assert any("could not be restored" in b["notice"] for b in followups)
        with httpx.Client(base_url=service.url, timeout=30) as c:  # still stopped: a token needs no Redis
            fresh = c.post("/api/ask", json={"question": NATO}).json()
            carried = c.post("/api/ask", json={"question": FOLLOW_UP, "session_id": fresh["session_id"]}).json()
            assert carried["is_followup"] is True and carried["notice"] is None
        with httpx.Client(base_url=service.url, timeout=30) as c:
            down = c.get("/api/ready").json()
            assert down["status"] == "degraded" and any(d.startswith("sessions:") for d in down["degraded"])
            metrics = c.get("/metrics").text
            assert _metric(metrics, "dgm_dependency_failures_total", 'dependency="redis-sessions"') >= 1
            assert _metric(metrics, "dgm_dependency_up", 'dependency="redis-sessions"') == 0

            redis_proc.send_signal(signal.SIGCONT)  # back: used again, no restart
            deadline = time.monotonic() + 10
            while c.get("/api/ready").json()["status"] != "ready" and time.monotonic() < deadline:
                c.post("/api/ask", json={"question": NATO})
                time.sleep(0.2)
            assert c.get("/api/ready").json()["status"] == "ready"
            again = c.post("/api/ask", json={"question": NATO}).json()
            follow = c.post("/api/ask", json={"question": FOLLOW_UP, "session_id": again["session_id"]}).json()
            assert follow["is_followup"] is True and follow["session_id"] == session_key(again["session_id"])
            assert follow["notice"] is None

        async def killed() -> None:
            redis_proc.kill()
            redis_proc.wait(timeout=10)
            await asyncio.sleep(2)

        asked, health, _ = asyncio.run(phase(killed))
        assert asked and all(s == 200 for s, _ in asked), [a for a in asked if a[0] != 200][:3]
        assert max(t for _, t, _ in health) < 1.0
    with own_redis(redis_binary, tmp_path / "redis2", port=port), \
            httpx.Client(base_url=service.url, timeout=30) as c:  # a new Redis on the same address
        deadline = time.monotonic() + 10
        while c.get("/api/ready").json()["status"] != "ready" and time.monotonic() < deadline:
            c.post("/api/ask", json={"question": NATO})
            time.sleep(0.2)
        first = c.post("/api/ask", json={"question": NATO}).json()
        follow = c.post("/api/ask", json={"question": FOLLOW_UP, "session_id": first["session_id"]}).json()
        assert follow["is_followup"] is True and follow["notice"] is None
    assert service.stop() == 0


# -- slow and oversized clients -------------------------------------------------------------------------------
def _read_response(sock: socket.socket, limit_s: float) -> bytes:
    sock.settimeout(limit_s)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.slow
def test_slow_and_oversized_clients_are_cut_off(spawn_service) -> None:
    service = spawn_service(env={"DGM_HEADER_TIMEOUT_S": "1", "DGM_BODY_TIMEOUT_S": "1", "DGM_KEEP_ALIVE_S": "1",
                                 "DGM_MAX_HEADERS": "20", "DGM_MAX_HEADER_BYTES": "4096"})
    port = int(service.url.rsplit(":", 1)[1])

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=5)

    # A head trickled one byte at a time: 408 after the header timeout, whatever the trickle.
    with connect() as s:
        t0 = time.monotonic()
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(40):
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - t0 > 3:
                break
        reply = _read_response(s, 2)
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert time.monotonic() - t0 < 3.5 or closed
    # A connection that never sends anything is closed too.
    with connect() as s:
        t0 = time.monotonic()
        assert _read_response(s, 4).startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 3
    # A body that stops half-way: 408 naming the body, after the body timeout.
    with connect() as s:
        t0 = time.monotonic()
        s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"question\": ")
        reply = _read_response(s, 4)
        assert reply.startswith(b"HTTP/1.1 408") and b"request body did not arrive" in reply, reply
        assert time.monotonic() - t0 < 3
    # Too many headers, or too large a head: 431.
    with connect() as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(30))
                  + b"\r\n")
        assert _read_response(s, 3).startswith(b"HTTP/1.1 431")
    with connect() as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 5000 + b"\r\n\r\n")
        assert _read_response(s, 3).startswith(b"HTTP/1.1 431")
    # An idle keep-alive connection is closed after the keep-alive timeout; a fresh request still answers.
    with connect() as s:
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        reply = _read_response(s, 4)
        assert reply.startswith(b"HTTP/1.1 200") and 0.8 < time.monotonic() - t0 < 3, reply
    with httpx.Client(base_url=service.url, timeout=10) as c:
        assert c.get("/api/health").status_code == 200
        assert c.post("/api/ask", json={"question": NATO}).status_code == 200


# -- SIGTERM under load -----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_drains_readiness_first(spawn_service, workers: int) -> None:
    """SIGTERM: /api/ready answers 503 at once while questions are still answered; after the drain delay
    the server stops taking connections, every request sent before the signal is answered (none reset),
    and it exits 0; with one worker and with two."""
    service = spawn_service(env={"DGM_DRAIN_DELAY_S": "2", "DGM_DRAIN_S": "20", "DGM_WORKERS": str(workers)},
                            ready_timeout=180)
    sent: list[tuple[float, int]] = []

    async def scenario():
        stop = asyncio.Event()
        load = asyncio.create_task(_ask_until(service.url, stop, 4, 30, sent=sent))
        await asyncio.sleep(1.0)
        signalled = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        ready: list[int] = []  # /api/ready on fresh connections until one is refused (0)
        while time.monotonic() - signalled < 8 and (not ready or ready[-1] != 0):
            async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
                try:
                    ready.append((await client.get("/api/ready")).status_code)
                except httpx.ConnectError:  # refused
                    ready.append(0)
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the load sees refusals too
        stop.set()
        return signalled, ready, await load

    signalled, ready, asked = asyncio.run(scenario())
    # Readiness turns 503 before the server stops accepting, and stays so: 200s (two workers: while the
    # supervisor passes the signal on, within its half-second loop), then 503s, then refused connections.
    assert re.fullmatch(r"(200,)*(503,){3,}(0,)", "".join(f"{s}," for s in ready)), ready
    if workers == 1:
        assert ready[0] == 503, ready
    answered = [s for s, _ in asked if s == 200]
    errors = [(s, b) for s, b in asked if s != 200]
    assert len(answered) > 5
    # After the stop, new connections are refused (status 0, ConnectError), never reset or answered with a
    # 5xx; and every request sent before the signal was answered.
    assert all(s == 0 and "ConnectError" in str(b) for s, b in errors), errors[:3]
    before = [status for t, status in sent if t < signalled]
    assert len(before) >= 4 and all(status == 200 for status in before), before  # 4 clients, at least one each
    late = [t - signalled for t, status in sent if status != 200]
    assert all(t > 0 for t in late), late
    assert service.proc.wait(timeout=30) == 0, service.log()


# -- a damaged index folder -------------------------------------------------------------------------------------
def _serve_once(tmp_path: Path, index_dir: Path, corpus_dir: Path) -> subprocess.CompletedProcess:
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[3]),
           "DGM_INDEX_DIR": str(index_dir), "DGM_CORPUS_DIR": str(corpus_dir), "DGM_HOST": "127.0.0.1",
           "DGM_PORT": "1", "DGM_DATABASE_URL": f"sqlite:///{tmp_path / 'dgm.db'}"}
    return subprocess.run([*_cli(), "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", ["manifest removed", "dangling link"])
def test_a_damaged_index_folder_is_an_error_not_a_rebuild(built_index: Path, settings, tmp_path: Path,
                                                          damage: str) -> None:
    if damage == "manifest removed":
        index_dir = tmp_path / "index"
        shutil.copytree(built_index.resolve(), index_dir)
        (index_dir / "manifest.json").unlink()
    else:
        index_dir = tmp_path / "index"
        index_dir.symlink_to(tmp_path / ".index-gone")
    before = sorted(p.name for p in tmp_path.iterdir())
    done = _serve_once(tmp_path, index_dir, settings.corpus_dir)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, message + done.stdout
    assert "error:" in message and "refusing to replace it" in message, message
    assert "building it" not in done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "dgm.db") == before  # nothing built


def test_every_setting_is_in_the_readme() -> None:
    from assistant.config import Settings

    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"| `DGM_{name.upper()}` |" not in readme]
    assert missing == []
