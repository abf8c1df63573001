"""The scope decision: off-topic questions abstain; the shipped question model takes part."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("question", [
    "How do I renew my passport?",
    "What are the opening hours of the Belgian embassy in Tokyo?",
    "hello, how are you?",
    "What is France's position on NATO enlargement?",
    "Give me a recipe for waffles",
    "Who founded the European Union?",
    "Which country has the largest army in the world?",
])
def test_off_topic_questions_abstain(assistant, question):
    ans = assistant.ask(question)
    assert ans.abstained
    assert ans.directorate is None and ans.citations == ()
    assert "do not cover" in ans.answer


def test_the_shipped_question_model_reads_the_kind_of_question(assistant):
    """The question model fit on dev (corpus/fits/) is loaded for the packaged model and takes part."""
    w = assistant.scope_weights
    embedder = assistant.engine.embedder
    assert len(w.question_weights) == embedder.dim and w.weights.get("question_model", 0) > 0
    in_scope = w.question_model(embedder.encode_query("Which directorate follows NATO matters?"))
    off_topic = w.question_model(embedder.encode_query("Where is the headquarters of NATO?"))
    assert in_scope > 0 > off_topic  # same topic, another kind of question
    ans = assistant.ask("Where is the headquarters of NATO?")
    assert ans.abstained and ans.directorate is None
