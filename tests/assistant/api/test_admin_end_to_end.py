"""Done when, end to end: the real service (`dgm-assistant serve`) is asked a few dozen questions, some with
personal data; `dgm-assistant report` and the /admin page (in a real Chromium, desktop and phone) show the
topics and charts, and no personal datum is anywhere: not in the database, the report, the CSV or the log."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_service
from tests.helpers import ROOT, TIMEOUT, clean_env, cli_command

pytestmark = pytest.mark.slow

TOKEN = "web-team-token-e2e-0123456789"
RESULTS = ROOT / "test-results" / "admin"
PHONE_VIEWPORT = (390, 844)
STEP_MS = 10_000
REPORT_MS = 60_000  # the page is made per request: the declined questions embedded and clustered

# Personal data typed into the questions and comments below: none may be stored, shown or logged.
SECRETS = ["jan.peeters@telenet.be", "marie.dubois@skynet.be", "k.schmidt@gmx.de", "0475 12 34 56",
           "+32 2 501 81 11", "0151 23456789", "06 12345678", "BE71 0961 2345 6769", "NL91ABNA0417164300",
           "DE89 3704 0044 0532 0130 00", "FR76 3000 6000 0112 3456 7890 189", "85.07.30-033.28", "85073003329",
           "Wetstraat 16", "rue de la Loi 16", "Hauptstraße 5a", "10 Downing Street", "4111 1111 1111 1111"]
# ... nor any telling part of them (with their separators: ids and hashes in hex must not match by chance).
SECRET_DIGITS = ["0475 12", "501 81 11", "0151 2345", "06 1234", "0961 2345", "ABNA0417", "3704 0044", "3000 6000",
                 "07.30-033", "4111 1111", "Downing", "Wetstraat", "Hauptstraße", "rue de la Loi"]

QUESTIONS = [
    # answered, in the four languages (a few with personal data)
    "Which directorate deals with NATO?",
    "What does Belgium do on climate finance? Answer to jan.peeters@telenet.be",
    "Who handles the United Nations Security Council? My number is 0475 12 34 56",
    "Quelle direction s'occupe de l'OTAN ?",
    "Que fait la Belgique pour les droits humains ? Écrivez à marie.dubois@skynet.be",
    "Welke directie behandelt de Verenigde Naties? Ik woon in de Wetstraat 16, 1040 Brussel",
    "Wat doet België voor ontwikkelingssamenwerking?",
    "Welche Direktion ist für die NATO zuständig?",
    "Was tut Belgien für die Menschenrechte? Meine E-Mail: k.schmidt@gmx.de",
    "Who deals with disarmament and non-proliferation?",
    # declined: the weather
    "What will the weather be like in Brussels tomorrow?",
    "Is it going to rain in Ghent this weekend? Text me on +32 2 501 81 11",
    "Quel temps fera-t-il à Liège demain ?",
    "Wordt het morgen warm in Antwerpen?",
    "Wie wird das Wetter morgen in Eupen? Rufen Sie 0151 23456789 an",
    # declined: passports, visas, identity cards
    "How do I renew my Belgian passport? My national number is 85.07.30-033.28",
    "Where can I apply for a new identity card? I live at 10 Downing Street",
    "Comment renouveler mon passeport ? J'habite rue de la Loi 16, 1000 Bruxelles",
    "Hoe vraag ik een visum aan? Mijn rijksregisternummer is 85073003329",
    "Wie beantrage ich einen neuen Reisepass? Ich wohne in der Hauptstraße 5a, 4700 Eupen",
    "My passport was stolen abroad, what should I do?",
    # declined: football
    "Who won the football world cup in 2018?",
    "Which team won the Champions League final?",
    "Qui a gagné le match de football des Diables Rouges ?",
    "Wie heeft de voetbalcompetitie gewonnen?",
    # declined: refunds and payments with bank details
    "Please refund my visa fee to BE71 0961 2345 6769",
    "Stort mijn terugbetaling op NL91ABNA0417164300 aub",
    "Überweisen Sie die Gebühr auf DE89 3704 0044 0532 0130 00",
    "Remboursez-moi sur FR76 3000 6000 0112 3456 7890 189 svp",
    "Charge my card 4111 1111 1111 1111 for the legalisation of a document",
    # declined: recipes
    "What is a good recipe for Belgian waffles?",
    "How do I cook mussels with fries?",
]


@pytest.fixture(scope="module")
def populated(tmp_path_factory, settings, built_index) -> Iterator[dict]:
    """The real service, asked every question (a follow-up too), with thumbs down on three answers."""
    workdir = tmp_path_factory.mktemp("e2e")
    service = start_service(workdir, built_index, settings.corpus_dir, env={"DGM_ADMIN_TOKEN": TOKEN})
    try:
        with httpx.Client(base_url=service.url, timeout=TIMEOUT) as client:
            answers = {}
            for q in QUESTIONS:
                r = client.post("/api/ask", json={"question": q})
                assert r.status_code == 200, r.text
                answers[q] = r.json()
            nato = answers[QUESTIONS[0]]
            follow = client.post("/api/ask", json={"question": "And who handles the OSCE?",
                                                   "session_id": nato["session_id"]}).json()
            for q, comment in ((QUESTIONS[2], "Wrong unit, call me on 0475 12 34 56"),
                               (QUESTIONS[15], "I only want my passport, 85.07.30-033.28"),
                               (QUESTIONS[25], "Where is my refund? BE71 0961 2345 6769")):
                r = client.post("/api/feedback", json={"session_id": answers[q]["session_id"], "question": q,
                                                       "answer": answers[q]["answer"], "rating": "down",
                                                       "comment": comment})
                assert r.status_code == 204
            # Records are written after each response: wait (bounded) until all are in.
            db = Path(service.database_url.removeprefix("sqlite:///"))
            for _ in range(200):
                with sqlite3.connect(db) as con:
                    n = con.execute("select count(*) from question_records where rating is not null").fetchone()[0]
                if n == 3:
                    break
                time.sleep(0.05)
            assert n == 3, f"{n} of the 3 thumbs-down reached their question's record"
        yield {"service": service, "db": db, "answers": answers, "followup": follow, "workdir": workdir}
    finally:
        service.stop()


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS + SECRET_DIGITS:
        assert secret not in text, f"{secret!r} in {where}"


def test_every_question_is_recorded_masked_and_nothing_personal_is_stored_or_logged(populated):
    with sqlite3.connect(populated["db"]) as con:
        dump = "\n".join(con.iterdump())
        rows = con.execute("select question, decision, reason, followup, language from question_records").fetchall()
    assert len(rows) == len(QUESTIONS) + 1
    assert populated["followup"]["is_followup"] and sum(r[3] for r in rows) >= 1
    assert {r[4] for r in rows} >= {"en", "fr", "nl", "de"}
    declined = [r for r in rows if r[1] == "declined"]
    assert len(declined) >= 15 and all(r[2] in ("off_topic", "no_passage", "unanswerable_kind") for r in declined)
    assert "[EMAIL]" in dump and "[PHONE]" in dump and "[IBAN]" in dump and "[NATIONAL-NUMBER]" in dump
    assert "[ADDRESS]" in dump and "[NUMBER]" in dump
    _assert_clean(dump, "the database")
    log = populated["service"].log(tail=10**7)
    _assert_clean(log, "the service's log")
    assert "/api/ask" in log and "weather" not in log and TOKEN not in log


def test_the_report_shows_topics_and_charts_with_every_datum_masked(populated, settings, built_index):
    html, table = populated["workdir"] / "report.html", populated["workdir"] / "records.csv"
    proc = subprocess.run([*cli_command(), "report", "--html", str(html), "--csv", str(table)],
                          capture_output=True, text=True, timeout=300,
                          env=clean_env(DGM_DATABASE_URL=f"sqlite:///{populated['db']}", DGM_INDEX_DIR=str(built_index),
                                        DGM_CORPUS_DIR=str(settings.corpus_dir), COLUMNS="200"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"{len(QUESTIONS) + 1} questions" in out and "Declined questions, by topic" in out
    assert "Answers visitors disliked" in out and "Wrong unit, call me on [PHONE]" in out
    _assert_clean(out, "the terminal report")
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and page.count('class="topic"') >= 2 and "Nearest page" in page
    _assert_clean(page, "the HTML report")
    exported = table.read_text(encoding="utf-8")
    assert len(list(csv.DictReader(io.StringIO(exported)))) == len(QUESTIONS) + 1
    _assert_clean(exported, "the CSV")


def test_the_admin_page_serves_the_same_report(populated):
    url = populated["service"].url
    page = httpx.get(url + "/admin", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT)
    assert page.status_code == 200 and page.text.count('class="topic"') >= 2
    _assert_clean(page.text, "/admin")
    export = httpx.get(url + "/admin/export.csv", headers={"X-Admin-Token": TOKEN}, timeout=TIMEOUT)
    _assert_clean(export.text, "/admin/export.csv")


# -- the page in a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize(("name", "viewport"), [("desktop", (1280, 800)), ("phone", PHONE_VIEWPORT)])
def test_the_admin_page_in_a_real_browser(populated, chromium_browser, name, viewport, tmp_path):
    from playwright.sync_api import expect

    url = populated["service"].url
    context = chromium_browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                           accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    problems: list[str] = []
    failed: list[tuple[int, str]] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: failed.append((r.status, r.url.removeprefix(url))) if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(url + "/admin")
        page.fill("#token", "not-the-token-0123456789")
        with page.expect_response("**/admin/login") as wrong:
            page.click("button[type=submit]")
        assert wrong.value.status == 403
        page.goto(url + "/admin")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]", timeout=REPORT_MS)
        expect(page.locator("h1")).to_have_text("What visitors ask the DGM Assistant")
        for section in ("#per-day", "#per-language", "#topics", "#disliked", "#per-unit"):
            expect(page.locator(section)).to_be_visible()
        expect(page.locator(".chart svg")).to_have_count(3)
        assert page.locator("article.topic").count() >= 2
        expect(page.locator("#followups")).to_contain_text("follow-ups (1)")
        # Readable at this width: nothing wider than the screen, charts scaled down to fit.
        widths = page.evaluate("""() => ({doc: document.documentElement.scrollWidth,
            view: document.documentElement.clientWidth,
            charts: [...document.querySelectorAll('.chart svg')].map(s => s.getBoundingClientRect().width),
            font: parseFloat(getComputedStyle(document.body).fontSize)})""")
        assert widths["doc"] <= widths["view"], widths
        assert all(0 < w <= widths["view"] for w in widths["charts"]) and widths["font"] >= 14
        RESULTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(RESULTS / f"admin-{name}.png"), full_page=True)
        _assert_clean(page.content(), "the page in the browser")
        with page.expect_download() as download:
            page.click("a.button")
        saved = tmp_path / "export.csv"
        download.value.save_as(saved)
        assert len(list(csv.DictReader(saved.open(encoding="utf-8")))) == len(QUESTIONS) + 1
        # Nothing failed but the login form's 401, the wrong token's 403 and the favicon there is none of; no
        # error in the console (a CSP violation would be one).
        assert {f for f in failed if f[1] != "/favicon.ico"} == {(401, "/admin"), (403, "/admin/login")}
        assert problems == []
    finally:
        context.close()
