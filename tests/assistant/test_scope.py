"""The scope decision: off-topic questions abstain; the shipped question model takes part, neutral without a
fit."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.scope import QUESTION_LOGIT_CAP, ScopeWeights


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_scope_weights_question_model_is_neutral_without_a_fit():
    vec = np.ones(4, dtype=np.float32) / 2
    assert ScopeWeights().question_model(vec) == 0.0
    fitted = ScopeWeights(question_bias=0.5, question_weights=(1.0, 0.0, 0.0, 0.0))
    assert fitted.question_model(vec) == pytest.approx(1.0)
    assert fitted.question_model(None) == 0.0
    assert fitted.question_model(np.ones(3, dtype=np.float32)) == 0.0  # another model's dimension
    huge = ScopeWeights(question_bias=100.0, question_weights=(1.0, 0.0, 0.0, 0.0))
    assert huge.question_model(vec) == QUESTION_LOGIT_CAP


def test_the_question_models_verdict_against_a_question_counts_as_far_as_no_page_offers_a_service():
    from assistant.scope import counted_verdict

    assert counted_verdict(-4.0, 0.0) == -4.0
    assert counted_verdict(-4.0, 0.75) == pytest.approx(-1.0)
    assert counted_verdict(-4.0, 1.0) == 0.0
    assert counted_verdict(3.0, 1.0) == 3.0  # a verdict for the question counts whole
