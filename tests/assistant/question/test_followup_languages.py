"""Follow-ups in Belgium's four languages: the lexicon's phrases, the rewrites they give, and the unit a
resolved follow-up is routed to. English rewrites stay as they were measured."""

from __future__ import annotations

import pytest

from assistant.models import Turn
from assistant.question import LANGUAGES, LanguageDetector, QuestionReader, resolve
from assistant.question.followup import followup_words
from assistant.question.words import fill, joins, phrase_regex, unit_phrase
from ingest import load_catalogue
from tests.helpers import CORPUS

CATALOGUE = load_catalogue(CORPUS)


@pytest.fixture(scope="module")
def reader() -> QuestionReader:
    return QuestionReader(CATALOGUE, LanguageDetector())


def _after(reader: QuestionReader, first: str, code: str | None, message: str):
    q1 = reader.read(first)
    turn = Turn(question=first, rewritten=q1.query, topic=q1.topic, directorate=code, abstained=code is None)
    return reader.read(message, [turn])


# -- the notation ------------------------------------------------------------------------------------------
def test_a_phrase_reads_as_text_and_becomes_a_pattern():
    assert phrase_regex("[and] (what|how) about", open_end=True) == r"(?:and\s+)?(?:what|how)\s+about\s+"
    assert phrase_regex("(that|the same) unit") == r"(?:that|the\s+same)\s+unit"
    assert phrase_regex("who {verbs}", {"verbs": ["deals with", "handles"]}) == r"who\s+(?:deals\s+with|handles)"
    assert phrase_regex("s'en occupe") == r"s'en\s+occupe"
    with pytest.raises(ValueError, match="an optional group cannot end a phrase"):
        phrase_regex("and [for|on]")
    with pytest.raises(ValueError, match="no list 'verbs'"):
        phrase_regex("who {verbs}")


def test_words_that_meet_a_value_merge_as_the_language_says():
    assert fill("Quelle direction s'occupe de {topic} ?", joins("fr"), topic="le climat") == \
        "Quelle direction s'occupe du climat ?"
    assert fill("Quelle direction s'occupe de {topic} ?", joins("fr"), topic="la cybersécurité") == \
        "Quelle direction s'occupe de la cybersécurité ?"
    assert fill("Welche Direktion ist für {topic} zuständig?", joins("de"), topic="der Klimaschutz") == \
        "Welche Direktion ist für den Klimaschutz zuständig?"
    # A value is put in as it is, never read as a template.
    assert fill("{question} for {topic}?", joins("en"), question="What about {x}", topic=r"a\1") == \
        r"What about {x} for a\1?"


def test_a_unit_is_named_with_the_article_of_its_kind():
    assert unit_phrase(CATALOGUE.get("M1"), "en") == "the Directorate for Security Policy (M1)"
    assert unit_phrase(CATALOGUE.get("M1"), "fr") == "la direction Politique de Sécurité (M1)"
    assert unit_phrase(CATALOGUE.get("M0.0"), "fr") == "le service Gestion et Contrôle de qualité de la DGM (M0.0)"
    assert unit_phrase(CATALOGUE.get("M3"), "nl") == "de Directie Mensenrechten (M3)"
    assert unit_phrase(CATALOGUE.get("M0.1"), "de") == \
        "der Dienst für transversale multilaterale Fragen & CoorMulti (M0.1)"
    assert unit_phrase(CATALOGUE.get("M2"), "it") == "the Directorate for the United Nations and OIF (M2)"


def test_every_language_has_its_followup_words():
    for lang in LANGUAGES:
        words = followup_words(lang)
        assert words.language == lang and set(words.rewrite) == {"unit", "policy", "for_topic", "add_topic"}
    assert followup_words("it").language == "en"  # no lexicon: English


# -- rewrites ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("first, code, message, rewritten", [
    ("Quelle direction s'occupe des droits de l'homme ?", "M3", "Et la cybersécurité ?",
     "Quelle direction s'occupe de la cybersécurité ?"),
    ("Quelle direction s'occupe des droits de l'homme ?", "M3", "Et pour le climat ?",
     "Quelle direction s'occupe du climat ?"),
    ("Quelle direction s'occupe du terrorisme ?", "M7", "Qu'en est-il du climat ?",
     "Quelle direction s'occupe du climat ?"),
    ("Que fait la Belgique pour le climat ?", "MD8", "Qui s'en occupe ?", "Qui s'occupe du climat ?"),
    ("Quelle direction s'occupe des droits de l'homme ?", "M3", "Qui s'en occupe ?",
     "Qui s'occupe des droits de l'homme ?"),
    ("Qui gère la politique de sécurité à la DGM ?", "M1", "Elle s'occupe aussi de la désinformation ?",
     "La direction Politique de Sécurité (M1) s'occupe aussi de la désinformation ?"),
    ("Qui est responsable des Nations unies à la DGM ?", "M2", "Et à part l'ONU, elle gère quoi d'autre ?",
     "À part l'ONU, la direction Nations Unies et OIF (M2) gère quoi d'autre ?"),
    ("Wat zegt België over klimaat?", "MD8", "En wie doet dat?", "Wie is bevoegd voor klimaat?"),
    ("Welke directie houdt zich bezig met mensenrechten?", "M3", "En klimaat?",
     "Welke directie is bevoegd voor klimaat?"),
    ("Wat zegt België over ontwapening?", "M5", "En welke directie is daarvoor bevoegd?",
     "Welke directie is voor ontwapening bevoegd?"),
    ("Wat doet M5?", "M5", "En wie doet dat voor terrorisme?", "Wie is bevoegd voor terrorisme?"),
    ("Welke directie volgt het externe beleid van de EU op?", "ME6", "Doet ze dat alleen?",
     "Doet de Directie Externe Betrekkingen van de EU (ME6) dat alleen?"),
    ("Wer ist für die Vereinten Nationen zuständig?", "M2", "Und was macht sie sonst?",
     "Was macht die Direktion Vereinte Nationen und OIF (M2) sonst?"),
    ("Welche Direktion kümmert sich um Klima?", "MD8", "Und der Klimaschutz?",
     "Welche Direktion ist für den Klimaschutz zuständig?"),
    ("Welche Direktion kümmert sich um Klima?", "MD8", "Und die Menschenrechte?",
     "Welche Direktion ist für die Menschenrechte zuständig?"),
    ("Welche Direktion ist für die Vereinten Nationen zuständig?", "M2", "Und für die Frankophonie?",
     "Welche Direktion ist für die Frankophonie zuständig?"),
    ("Was sagt Belgien zur Abrüstung?", "M5", "Und wer ist dafür zuständig?", "Wer ist für Abrüstung zuständig?"),
])
def test_followups_in_french_dutch_and_german_become_standalone_questions(reader, first, code, message, rewritten):
    q = _after(reader, first, code, message)
    assert q.is_followup and q.query == rewritten, q


@pytest.mark.parametrize("first, code, message", [
    # a question of its own after the opener: its topic is its own, not the previous one
    ("Que fait la direction M5 ?", "M5", "Et qui s'occupe du terrorisme alors ?"),
    ("Wat is de CoorMulti?", "M0.1", "En wie zorgt dan voor het budget en de IT?"),  # "IT" is no English "it"
    ("Welke directie houdt zich bezig met mensenrechten?", "M3", "Welke directie houdt zich bezig met klimaat?"),
])
def test_a_message_with_its_own_topic_is_left_alone(reader, first, code, message):
    q = _after(reader, first, code, message)
    assert not q.is_followup and q.query == message


@pytest.mark.parametrize("first, code, message, rewritten", [
    # after a turn about a unit, "it" is that unit; after one about a topic, the topic
    ("What does M5 do?", "M5", "Does it also deal with landmines?",
     "Does the Directorate for Disarmament and Non-Proliferation (M5) also deal with landmines?"),
    ("Tell me about the Ottawa Convention.", "M5", "And when did Belgium ratify it?",
     "When did Belgium ratify the Ottawa Convention?"),
    ("Was ist die FATF überhaupt?", "M4", "Und seit wann gibt es sie?", "Seit wann gibt es die FATF überhaupt?"),
    # German "Wie" asks how, not who (Dutch "wie"): a turn about the FATF, not about a unit
    ("Wie unterstützt Belgien die FATF?", "M4", "Und seit wann gibt es sie?",
     "Seit wann gibt es sie Wie unterstützt Belgien die FATF?"),
    # a topic that is the whole previous question is added, not put in the pronoun's place
    ("Is Belgium one of the Annex 2 states of the CTBT?", "M5", "When did it ratify the treaty?",
     "When did it ratify the treaty Is Belgium one of the Annex 2 states of the CTBT?"),
    ("Qui gère la politique de sécurité à la DGM ?", "M1", "Elle s'occupe aussi de la désinformation ?",
     "La direction Politique de Sécurité (M1) s'occupe aussi de la désinformation ?"),
])
def test_a_pronoun_stands_for_the_unit_only_after_a_turn_about_one(reader, first, code, message, rewritten):
    q = _after(reader, first, code, message)
    assert q.is_followup and q.query == rewritten, q
    assert q.prior == code  # the conversation's unit stays a hint for routing either way


@pytest.mark.slow
def test_a_pronoun_for_the_policy_asked_about_is_not_read_as_its_unit(assistant):
    """ "it" after a policy question is the policy, not the unit the answer named, over three turns."""
    answer = _play(assistant, ["What is Belgium's disarmament policy?", "Does it cover weapons of mass destruction?",
                               "Who coordinates that policy?"])
    assert "disarmament policy" in answer.rewritten_query and "Directorate" not in answer.rewritten_query
    assert answer.directorate is not None and answer.directorate.code == "M5"


@pytest.mark.parametrize("message", ["Y a-t-il une direction pour le climat ?", "Faut-il un visa pour le Congo ?"])
def test_an_inverted_question_of_its_own_is_no_follow_up(reader, message):
    q = _after(reader, "Que fait la Belgique contre les mines antipersonnel ?", "M5", message)
    assert not q.is_followup and q.query == message


def test_an_inverted_subject_is_kept_and_the_previous_topic_added(reader):
    """French puts the subject's pronoun after the verb ("consacre-t-elle"): it is the sentence's own subject,
    not a word to replace (which made "consacre-t-la direction ..."); the previous topic joins the question."""
    q = _after(reader, "Que fait la Belgique contre les mines antipersonnel ?", "M5",
               "Et combien d'argent y consacre-t-elle chaque année ?")
    assert q.is_followup and "consacre-t-elle" in q.query and "mines antipersonnel" in q.query, q
    assert "direction" not in q.query


def test_the_language_of_the_message_picks_the_words():
    history = [Turn("Wer ist für die NATO zuständig?", "Wer ist für die NATO zuständig?", "die NATO", "M1", False)]
    names = {"M1": "die Direktion Sicherheitspolitik (M1)"}
    assert resolve("Und was macht sie sonst?", history, names, "de").is_followup
    # Read with English words, the German pronoun is no pronoun and "Und" no opener.
    assert not resolve("Und was macht sie sonst?", history, names, "en").is_followup


# -- end to end (the real model and index) -----------------------------------------------------------------
# The English dev follow-ups, and what their last turn became when the English figures were measured. A change
# here is a change of English behaviour, to be measured on dev first.
ENGLISH_DEV_FOLLOWUPS = [
    (["Which directorate is responsible for the UN?", "And for the International Organisation of La Francophonie?"],
     "Which directorate deals with the International Organisation of La Francophonie?"),
    (["What does M1 cover?", "Does it also handle disinformation?"],
     "Does the Directorate for Security Policy (M1) also handle disinformation?"),
    (["Who handles the rule of law in foreign policy?", "Does that same directorate deal with cyber?"],
     "Does the rule of law in foreign policy same directorate deal with cyber?"),
    (["Tell me about Belgium's position on terrorism.", "Which directorate is responsible?"],
     "Which directorate is responsible for Belgium's position on terrorism?"),
    (["What does MD8 do?", "Which DGs share responsibility for it?"],
     "Which DGs share responsibility for the Directorate for the Environment and Climate (MD8)?"),
    (["Who manages the DGM's budgets?", "Does that service also handle IT?"],
     "Does the Management and quality control service of the DGM (M0.0) also handle IT?"),
    (["What is the role of M0.1?", "Does it work with the regions?"],
     "Does the Transversal Multilateral Issues service & CoorMulti (M0.1) work with the regions?"),
    (["What does ME6 follow up?", "Is it run by the DGM alone?"],
     "Is the Directorate for EU External Relations (ME6) run by the DGM alone?"),
    (["Which directorate works on human rights?", "What about LGBTQI+ rights specifically?"],
     "Which directorate deals with LGBTQI+ rights specifically?"),
    (["What does the FPS say about migration?", "Does that include human trafficking?",
      "And the link with development cooperation?"],
     "What does the FPS do about the link with development cooperation?"),
]


def _play(assistant, turns: list[str]):
    sid = None
    for t in turns:
        answer = assistant.ask(t, session_id=sid)
        sid = answer.session_id
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("turns, rewritten", ENGLISH_DEV_FOLLOWUPS)
def test_english_followups_are_rewritten_as_before(assistant, turns, rewritten):
    assert _play(assistant, turns).rewritten_query == rewritten


@pytest.mark.slow
@pytest.mark.parametrize("turns, code, lead", [
    (["Quelle direction s'occupe des droits de l'homme ?", "Et la cybersécurité ?"], "M4",
     "Ce sujet relève de la direction Gouvernance internationale (M4)"),
    (["Que fait la Belgique pour le climat ?", "Qui s'en occupe ?"], "MD8",
     "Ce sujet relève de la direction Environnement et Climat (MD8)"),
    (["Qui gère la politique de sécurité à la DGM ?", "Elle s'occupe aussi de la désinformation ?"], "M1",
     "Au sein de la DGM, ce sujet correspond à la direction Politique de Sécurité (M1)"),
    (["Wat zegt België over klimaat?", "En wie doet dat?"], "MD8",
     "Dit wordt behandeld door de Directie Leefmilieu en Klimaat (MD8)"),
    (["Welke directie houdt zich bezig met mensenrechten?", "En klimaat?"], "MD8",
     "Dit wordt behandeld door de Directie Leefmilieu en Klimaat (MD8)"),
    (["Wat zegt België over ontwapening?", "En welke directie is daarvoor bevoegd?"], "M5",
     "Dit wordt behandeld door de Directie Ontwapening en Non-proliferatie (M5)"),
    (["Welke directie volgt het externe beleid van de EU op?", "Doet ze dat alleen?"], "ME6",
     "Binnen de DGM hoort dit bij de Directie Externe Betrekkingen van de EU (ME6)"),
    (["Wer ist für die Vereinten Nationen zuständig?", "Und was macht sie sonst?"], "M2",
     "Innerhalb der DGM passt dazu die Direktion Vereinte Nationen und OIF (M2)"),
    (["Welche Direktion kümmert sich um Klima?", "Und die Menschenrechte?"], "M3",
     "Zuständig ist die Direktion Menschenrechte (M3)"),
    (["Was ist die Direktion M4?", "Kümmert sie sich auch um Geldwäsche?"], "M4",
     "Innerhalb der DGM passt dazu die Direktion Internationale Governance (M4)"),
])
def test_followups_in_other_languages_are_routed_and_answered_in_them(assistant, turns, code, lead):
    answer = _play(assistant, turns)
    assert answer.is_followup and not answer.abstained
    assert answer.directorate is not None and answer.directorate.code == code, answer.rewritten_query
    assert answer.answer.startswith(lead), answer.answer
