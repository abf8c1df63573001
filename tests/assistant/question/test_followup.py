"""Follow-ups: a three-turn conversation, a follow-up on a topic, standalone questions left alone."""

from __future__ import annotations

import pytest

from assistant.models import Turn
from assistant.question import resolve

pytestmark = pytest.mark.slow


def test_three_turn_conversation(assistant):
    a1 = assistant.ask("Which directorate deals with NATO?")
    assert a1.directorate.code == "M1"
    a2 = assistant.ask("What about cyber?", session_id=a1.session_id)
    assert a2.is_followup and "cyber" in a2.rewritten_query.lower()
    assert a2.directorate.code == "M4"
    a3 = assistant.ask("Does it also deal with space?", session_id=a1.session_id)
    assert a3.is_followup and "(M4)" in a3.rewritten_query
    assert a3.directorate.code == "M4"
    assert any("space;" in c.text for c in a3.citations)


def test_followup_on_topic(assistant):
    a1 = assistant.ask("Tell me about Belgium's work on disarmament")
    a2 = assistant.ask("And who handles that?", session_id=a1.session_id)
    assert "disarmament" in a2.rewritten_query.lower()
    assert a2.directorate.code == "M5"


def test_resolve_leaves_standalone_questions_alone():
    history = [Turn("Who handles NATO?", "Who handles NATO?", "NATO", "M1", False)]
    r = resolve("Which directorate deals with climate change?", history, {"M1": "the Directorate (M1)"})
    assert not r.is_followup and r.query == "Which directorate deals with climate change?"
