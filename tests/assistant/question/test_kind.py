"""What a question asks for, by its wording; remit questions with news or time words are still answered."""

from __future__ import annotations

import pytest

from assistant.question import question_type

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("question, kind", [
    ("Who founded the European Union?", "factoid"),
    ("What was the outcome of the last COP climate summit?", "factoid"),
    ("Which Belgian companies manufacture weapons?", "factoid"),
    ("Who handles the founding principles of the UN Charter?", "policy"),
    ("Which directorate deals with the biggest hybrid threats?", "policy"),
    ("Who is the Belgian ambassador to Japan?", "specific"),
    ("How do I renew my passport?", "consular"),
    ("How do I report a cyber attack on my company?", "personal"),
    ("Where can I find who applies EU restrictive measures in Belgium?", "policy"),
    ("Who is the current NATO Secretary General?", "specific"),
    ("Which countries are permanent members of the Security Council?", "factoid"),
    # News and the moment mark a question about events, unless it asks who handles a topic or names a unit
    ("What is the latest news on the ceasefire negotiations?", "specific"),
    ("Is there a strike at Brussels Airport today?", "specific"),
    ("Who chairs the UN Human Rights Council this year?", "specific"),
    ("Who handles UN sanctions right now?", "policy"),
    ("Who in the DGM currently deals with sanctions?", "policy"),
    ("What does M4 do today?", "policy"),
    ("Who is in charge of the fight against fake news?", "policy"),
    ("What does the Dutch foreign ministry think about climate finance?", "other_country"),
    ("How much did Belgium pay to the UN last year?", "specific"),
    ("How much does Belgium pay to the UN?", "figure"),
    ("Which directorate deals with French-speaking countries?", "policy"),
    # Consumer matters: a supplier, a shop or a restaurant, prices of energy
    ("Which energy supplier is the cheapest in Brussels?", "domestic"),
    ("What is the price of electricity in Belgium this month?", "domestic"),
    ("Which hotels are close to the European Parliament?", "factoid"),
    ("Does Belgium follow the International Energy Agency?", "policy"),
])
def test_question_types(assistant, question, kind):
    assert assistant.engine.reader.read(question).kind == kind
    # the bare function, told whether the question names a unit's code
    codes = assistant.catalogue.codes_in(question)
    assert question_type(question, names_code=bool(codes)) == kind


@pytest.mark.parametrize("question, code", [
    ("Which office handles fake news spread by foreign states?", "M1"),
    ("Who handles UN sanctions right now?", "M2"),
])
def test_remit_questions_with_news_or_time_words_are_answered(assistant, question, code):
    ans = assistant.ask(question)
    assert not ans.abstained and ans.directorate.code == code
