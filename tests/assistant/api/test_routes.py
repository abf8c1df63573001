"""The routes over real HTTP: health and readiness, asking and conversations, the catalogue, the widget's files."""

from __future__ import annotations

import json
import re

import httpx

from assistant.api import create_app
from assistant.sessions import session_key
from index.embedders import PACKAGED_MODEL, embedder_name
from tests.helpers import NATO, ask, serve_in_thread


def test_health_and_ready_report_the_index(client: httpx.Client) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = client.get("/api/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["index"]["chunks"] > 0
    assert body["index"]["created_at"] and body["index"]["path"].startswith(".index-")
    assert "/" not in body["index"]["path"]  # the folder's name, not where the service keeps it
    assert body["index"]["model"] == embedder_name(PACKAGED_MODEL, "onnx-int8")


def test_three_turn_conversation_over_http(client: httpx.Client) -> None:
    first = ask(client, NATO).json()
    assert first["directorate"]["code"] == "M1"
    sid = first["session_id"]

    second = ask(client, "What about cyber?", session_id=sid).json()
    assert second["session_id"] == session_key(sid) and second["is_followup"] is True  # stored now
    assert "cyber" in second["rewritten_query"].lower()
    assert second["directorate"]["code"] == "M4"

    third = ask(client, "Does it also deal with space?", session_id=sid).json()
    assert third["is_followup"] is True and third["directorate"]["code"] == "M4"
    assert "M4" in third["rewritten_query"] or "International Governance" in third["rewritten_query"]


def test_without_session_id_each_question_starts_a_conversation(client: httpx.Client) -> None:
    a = ask(client, NATO).json()["session_id"]
    b = ask(client, NATO).json()["session_id"]
    assert a != b
    follow = ask(client, "What about cyber?").json()  # no session: not read as a follow-up of anything
    assert follow["is_followup"] is False


def test_an_unknown_session_id_starts_a_new_conversation(client: httpx.Client) -> None:
    sid = "client-chosen_id-0001"  # ids are the server's: one it never issued is not taken up
    body = ask(client, NATO, session_id=sid).json()
    assert session_key(body["session_id"]) != sid and re.fullmatch(r"[0-9a-f]{32}", session_key(body["session_id"]))
    assert "expired or is unknown" in body["notice"]
    assert ask(client, NATO).json()["notice"] is None


def test_directorate_filter_and_top_k(client: httpx.Client) -> None:
    r = ask(client, "What does Belgium do on climate?", directorate="MD8", top_k=2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["directorate"]["code"] == "MD8"
    assert 1 <= len(body["citations"]) and len(body["citations"]) + len(body["related"]) <= 2


def test_out_of_scope_question_abstains(client: httpx.Client) -> None:
    body = ask(client, "What is the best pizza recipe?").json()
    assert body["abstained"] is True
    assert body["citations"] == [] and body["related"] == [] and body["directorate"] is None
    assert body["suggestions"] and all(s not in ("Structure", "Remit") for s in body["suggestions"])


def test_directorates_catalogue_with_starters(client: httpx.Client) -> None:
    r = client.get("/api/directorates")
    assert r.status_code == 200
    units = r.json()
    codes = [u["code"] for u in units]
    assert len(codes) == len(set(codes)) == 10 and {"M1", "M4", "M0.0"} <= set(codes)
    for u in units:
        assert {"code", "name", "short_name", "remit", "kind", "aliases", "keywords", "shared_with",
                "starter"} <= set(u)
        assert u["starter"].endswith("?") and len(u["starter"]) > 10
    m1 = next(u for u in units if u["code"] == "M1")
    assert "NATO" in m1["starter"]


def test_starters_are_answered_by_their_unit(client: httpx.Client) -> None:
    for unit in client.get("/api/directorates").json():
        body = ask(client, unit["starter"]).json()
        assert body["abstained"] is False, unit["starter"]
        assert body["directorate"]["code"] == unit["code"], unit["starter"]


def test_control_characters_and_markup_are_plain_text(client: httpx.Client) -> None:
    q = "<script>alert(1)</script>\x00 Which directorate deals\x07 with <b>NATO</b>?\x1b"
    r = ask(client, q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/json")
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in body["rewritten_query"] + body["answer"])
    assert "<script>" in body["rewritten_query"]  # kept as text, never interpreted or stripped into code


def test_config_gives_the_limits_a_client_needs(client: httpx.Client, settings) -> None:
    """The widget reads the longest question from the service instead of repeating it."""
    body = client.get("/api/config").json()
    assert body == {"max_question_chars": settings.max_question_chars, "top_k": settings.top_k,
                    "max_top_k": settings.max_top_k}
    assert "MAX_CHARS" not in client.get("/widget.js").text and "1000" not in client.get("/widget.js").text


def test_widget_texts_are_served_per_language(client: httpx.Client) -> None:
    en = client.get("/i18n/en.json")
    assert en.status_code == 200 and en.headers["content-type"].startswith("application/json")
    assert en.headers["cache-control"] == "no-cache"
    english = en.json()

    def placeholders(texts: dict[str, str]) -> dict[str, list[str]]:
        return {key: sorted(re.findall(r"\{\w+\}", text)) for key, text in texts.items()}

    for lang in ("fr", "nl", "de"):
        texts = client.get(f"/i18n/{lang}.json").json()
        assert placeholders(texts) == placeholders(english), lang  # the same keys, each with the same {names}
        assert texts["send"] != english["send"], lang
    # widget.js carries the English built in (it never waits for it): the same texts as en.json.
    built_in = re.search(r"var EN = (\{.*?\n  \});", client.get("/widget.js").text, re.DOTALL)
    assert built_in and json.loads(re.sub(r'"\s*\+\s*"', "", built_in.group(1))) == english
    for lang in ("xx", "EN", "en-GB"):
        r = client.get(f"/i18n/{lang}.json")
        assert r.status_code == 404 and "en, fr, nl, de" in r.json()["detail"]


def test_missing_demo_page_is_404(settings, assistant, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("assistant.api.routes.STATIC_DIR", tmp_path)
    app = create_app(settings.model_copy(update={"watch_index_s": 0}), assistant=assistant)
    with serve_in_thread(app) as url:
        assert httpx.get(url + "/").status_code == 404
        assert httpx.get(url + "/widget.js").status_code == 404
        assert httpx.get(url + "/widget.css").status_code == 404
        assert httpx.get(url + "/i18n/en.json").status_code == 404
