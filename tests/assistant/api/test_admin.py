"""/admin: the token check (404 without a token set, 401 without credentials, 403 with wrong ones), the login
form's cookie, the CSV export, the records written by /api/ask and /api/feedback, and the logs kept clean."""

from __future__ import annotations

import csv
import io
import logging
import time

import httpx
import pytest
from pydantic import ValidationError

from assistant.api.app import create_app
from assistant.config import Settings
from tests.helpers import TIMEOUT, serve_in_thread

TOKEN = "team-token-0123456789abcdef"
pytestmark = pytest.mark.slow


def _wait_for(predicate, what: str, tries: int = 100) -> None:
    """Records are written after the response: poll a bounded number of times."""
    for _ in range(tries):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen")


@pytest.fixture(scope="module")
def service(settings, assistant, tmp_path_factory):
    """The app with an admin token, over the session's assistant, served by uvicorn; yields (url, app)."""
    db = tmp_path_factory.mktemp("admin") / "dgm.db"
    config = settings.model_copy(update={"admin_token": TOKEN, "database_url": f"sqlite:///{db}",
                                         "rate_limit": "100000/minute"})
    app = create_app(config, assistant=assistant)
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture
def client(service):
    with httpx.Client(base_url=service[0], timeout=TIMEOUT) as c:
        yield c


def test_without_a_token_set_there_is_no_page(settings, assistant):
    app = create_app(settings.model_copy(update={"admin_token": None}), assistant=assistant)
    with serve_in_thread(app) as url:
        for path in ("/admin", "/admin/export.csv"):
            r = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 404 and r.json()["detail"]
        assert httpx.post(url + "/admin/login", data={"token": TOKEN}).status_code == 404


def test_a_short_token_is_refused_with_its_rule():
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(admin_token="short")


def test_no_credentials_get_the_login_form_and_a_401(client):
    r = client.get("/admin")
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'action="/admin/login"' in r.text and 'type="password"' in r.text
    r = client.get("/admin/export.csv")
    assert r.status_code == 401 and "token" in r.json()["detail"]


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer wrong-token-0123456789"},
                                     {"X-Admin-Token": TOKEN + "x"}])
def test_a_wrong_token_gets_403_with_a_json_detail(client, headers):
    for path in ("/admin", "/admin/export.csv"):
        r = client.get(path, headers=headers)
        assert r.status_code == 403 and r.json() == {"detail": "admin: wrong token"}


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {TOKEN}"}, {"X-Admin-Token": TOKEN}])
def test_the_token_in_a_header_opens_the_report(client, headers):
    r = client.get("/admin", headers=headers)
    assert r.status_code == 200 and "What visitors ask" in r.text
    assert r.headers["cache-control"] == "no-store" and "script-src 'self'" in r.headers["content-security-policy"]


def test_the_login_form_sets_a_cookie_that_is_not_the_token(client):
    assert client.post("/admin/login", data={"token": "wrong-token-0123456789"}).status_code == 403
    assert client.post("/admin/login", data={}).status_code == 422
    r = client.post("/admin/login", data={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie and TOKEN not in cookie
    assert client.get("/admin").status_code == 200  # the client keeps the cookie
    assert client.get("/admin/export.csv").status_code == 200



def test_a_login_cookie_expires_on_the_server_and_with_the_token():
    """The cookie carries its issue time under a MAC of the token: past DGM_ADMIN_SESSION_S, or once the token
    changes, it opens nothing (and a forged time breaks the MAC)."""
    from assistant.api.admin import _cookie_valid, _cookie_value

    now = 1_800_000_000
    value = _cookie_value(TOKEN, now)
    assert _cookie_valid(value, TOKEN, 3600, now + 3599)
    assert not _cookie_valid(value, TOKEN, 3600, now + 3601)  # expired
    assert not _cookie_valid(value, TOKEN + "-rotated", 3600, now + 10)  # another token
    forged = f"{now + 3000}.{value.partition('.')[2]}"
    assert not _cookie_valid(forged, TOKEN, 3600, now + 3500)
    assert not _cookie_valid("garbage", TOKEN, 3600, now)


@pytest.mark.parametrize("value", ["1.deadbeef", "forged"])
def test_a_stale_or_forged_cookie_gets_the_login_page_again(client, value):
    """Not a 403 dead end: the httponly cookie cannot be cleared by the page, so the form comes back (and the
    response deletes the cookie)."""
    r = client.get("/admin", headers={"Cookie": f"dgm_admin={value}"})
    assert r.status_code == 401 and "Admin token" in r.text and 'dgm_admin=""' in r.headers["set-cookie"]
    r = client.get("/admin/export.csv", headers={"Cookie": f"dgm_admin={value}"})
    assert r.status_code == 401 and "token" in r.json()["detail"]


def test_questions_and_feedback_are_recorded_masked_and_exported(client, service, caplog):
    _, app = service
    records = app.state.records
    before = len(records.rows())
    caplog.set_level(logging.INFO)
    question = "Which directorate deals with NATO? Mail me at piet.janssens@example.be or call 0475 12 34 56"
    answer = client.post("/api/ask", json={"question": question}).json()
    declined = client.post("/api/ask", json={"question": "What is the weather in Brussels tomorrow?"}).json()
    assert not answer["abstained"] and declined["abstained"]
    _wait_for(lambda: len(records.rows()) == before + 2, "the two records")
    r = client.post("/api/feedback", json={"session_id": answer["session_id"], "question": question,
                                           "answer": answer["answer"], "rating": "down",
                                           "comment": "Not what I asked; my IBAN is BE71 0961 2345 6769"})
    assert r.status_code == 204
    _wait_for(lambda: any(row["rating"] == "down" for row in records.rows()), "the rating")
    rows = records.rows()[before:]
    stored = {row["question"]: row for row in rows}
    masked = "Which directorate deals with NATO? Mail me at [EMAIL] or call [PHONE]"
    assert stored[masked]["decision"] == "answered" and stored[masked]["unit"] == answer["directorate"]["code"]
    assert stored[masked]["rating"] == "down" and stored[masked]["comment"] == "Not what I asked; my IBAN is [IBAN]"
    weather = stored["What is the weather in Brussels tomorrow?"]
    assert weather["decision"] == "declined" and weather["reason"] in ("off_topic", "no_passage",
                                                                       "unanswerable_kind")
    feedback = app.state.feedback.records()[-1]
    assert feedback["question"] == masked and "BE71" not in feedback["comment"]
    export = client.get("/admin/export.csv", headers={"X-Admin-Token": TOKEN})
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    exported = list(csv.DictReader(io.StringIO(export.text)))
    assert masked in {row["question"] for row in exported}
    assert "piet.janssens" not in export.text and "0475" not in export.text
    client.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"})
    # Nothing logged holds a question's text, a personal datum or the token.
    for secret in ("NATO", "weather", "piet.janssens", "0475", "BE71", TOKEN):
        assert secret not in caplog.text, secret
    assert any(r.name == "assistant.access" and r.__dict__.get("path") == "/api/ask" for r in caplog.records)


def test_recording_can_be_turned_off(settings, assistant, tmp_path):
    config = settings.model_copy(update={"record_questions": False, "database_url": f"sqlite:///{tmp_path / 'x.db'}"})
    app = create_app(config, assistant=assistant)
    assert app.state.recorder is None
    with serve_in_thread(app) as url:
        assert httpx.post(url + "/api/ask", json={"question": "Which directorate deals with NATO?"},
                          timeout=TIMEOUT).status_code == 200
        time.sleep(0.2)  # a record would be written right after the response
        assert app.state.records.rows() == []


def test_the_service_purges_what_is_older_than_the_retention_when_it_starts(settings, assistant, tmp_path):
    from datetime import UTC, datetime, timedelta

    from assistant.api.feedback import make_engine
    from assistant.insights import QuestionRecord, QuestionRecords

    url = f"sqlite:///{tmp_path / 'old.db'}"
    records = QuestionRecords(make_engine(url), 30)
    for days in (31, 29):
        records.add(QuestionRecord(
            ts=(datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None), session_key="k", request_id=None,
            question=f"{days} days ago", language="en", decision="declined", reason="no_passage", kind="policy",
            unit=None, confidence=0.1, followup=False, nearest_doc=None, nearest_passage=None))
    app = create_app(settings.model_copy(update={"database_url": url, "retention_days": 30}), assistant=assistant)
    with serve_in_thread(app):
        assert [r["question"] for r in records.rows()] == ["29 days ago"]
