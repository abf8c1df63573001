"""The answer's own sentences in the question's language: the unit's name in that language, the caveats, the
refusal, and the note that a quoted page exists only in another language. English is as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import compose as compose_module
from assistant.compose import abstention_text, answer_texts, compose, suggestion_topics
from assistant.models import DirectorateMatch, Hit, Routing
from assistant.question import LANGUAGES
from ingest import load_catalogue
from tests.helpers import passage

CATALOGUE = load_catalogue(Path(__file__).resolve().parents[2] / "corpus")


def _passage(n: int, text: str, directorates: tuple[str, ...] = (), themes: tuple[str, ...] = (),
             language: str = "en") -> Hit:
    return Hit(chunk=passage(n, text, language=language, directorates=directorates, themes=themes), score=1.0 / n)


def _match(code: str, evidence: str | None) -> DirectorateMatch:
    d = CATALOGUE.get(code)
    return DirectorateMatch(code=code, name=d.name, confidence=0.9, evidence_id=evidence, short_name=d.short_name,
                            shared_with=d.shared_with)


HITS = [_passage(1, "The Directorate for EU External Relations (ME6) ensures the follow-up of all EU external "
                    "policies.", ("ME6",)),
        _passage(2, "The Directorate for the United Nations and OIF (M2) handles sanctions.", ("M2",))]
ROUTING = Routing(primary=_match("ME6", HITS[0].chunk.id), secondary=_match("M2", HITS[1].chunk.id),
                  uncertain=True)
QUESTION = "Who follows the EU external policies?"


def test_english_framing_is_the_one_measured():
    text = compose(QUESTION, HITS, ROUTING, True, language="en", catalogue=CATALOGUE).text
    # What the code wrote before the templates, sentence for sentence.
    assert text == (
        "This is handled by the Directorate for EU External Relations (ME6) [1]. It works under the joint "
        "responsibility of the DGM and the DGE [1]. The Directorate for the United Nations and OIF (M2) is also "
        "involved [2]. I am not sure of this directorate, so check the cited remit before relying on this. "
        "The Directorate for EU External Relations (ME6) ensures the follow-up of all EU external "
        "policies. [1]")
    # No language, no catalogue: the same English.
    assert compose(QUESTION, HITS, ROUTING, True).text == text
    assert compose(QUESTION, HITS, ROUTING, False, language="en").text.startswith(
        "Within the DGM, the matching directorate is the Directorate for EU External Relations (ME6) [1].")


@pytest.mark.parametrize("language, expected", [
    ("fr", "Ce sujet relève de la direction Relations extérieures de l'UE (ME6) [1]. Cette compétence est partagée "
           "entre la DGM et la DGE [1]. La direction Nations Unies et OIF (M2) intervient également [2]. Je ne suis "
           "pas certain de cette direction : vérifiez la mission citée avant de vous y fier. Cette "
           "information n'existe qu'en anglais : The Directorate for EU External Relations (ME6) ensures the "
           "follow-up of all EU external policies. [1]"),
    ("nl", "Dit wordt behandeld door de Directie Externe Betrekkingen van de EU (ME6) [1]. Dit valt onder de "
           "gezamenlijke verantwoordelijkheid van de DGM en de DGE [1]. De Directie Verenigde Naties (M2) is ook "
           "betrokken [2]. Ik ben niet zeker van deze directie; controleer dus de geciteerde "
           "bevoegdheden voordat u hierop vertrouwt. Deze informatie bestaat alleen in het Engels: The Directorate "
           "for EU External Relations (ME6) ensures the follow-up of all EU external policies. [1]"),
    ("de", "Zuständig ist die Direktion EU-Außenbeziehungen (ME6) [1]. Die Zuständigkeit teilen sich die DGM und die "
           "DGE [1]. Auch die Direktion Vereinte Nationen und OIF (M2) ist beteiligt [2]. Bei dieser Direktion bin "
           "ich mir nicht sicher; prüfen Sie daher den zitierten Aufgabenbereich, bevor Sie sich darauf "
           "verlassen. Diese Information gibt es nur auf Englisch: The Directorate for EU External Relations (ME6) "
           "ensures the follow-up of all EU external policies. [1]"),
])
def test_the_framing_is_in_the_question_language_with_the_units_names_in_it(language, expected):
    assert compose(QUESTION, HITS, ROUTING, True, language=language,
                   catalogue=CATALOGUE).text == expected


def test_a_service_takes_its_own_article_and_the_words_around_it_agree():
    hits = [_passage(1, "The M0.0 service manages several budgets.", ("M0.0",))]
    routing = Routing(primary=_match("M0.0", hits[0].chunk.id))
    fr = compose("Qui gère les budgets ?", hits, routing, True, language="fr",
                 catalogue=CATALOGUE).text
    assert fr.startswith("Ce sujet relève du service Gestion et Contrôle de qualité de la DGM (M0.0) [1].")
    de = compose("Wer verwaltet die Budgets?", hits, routing, True, language="de",
                 catalogue=CATALOGUE).text
    assert de.startswith("Zuständig ist der Dienst für Management und Qualitätskontrolle der DGM (M0.0) [1].")


def test_the_page_language_is_announced_once_and_only_when_it_differs():
    hits = [_passage(1, "Belgium supports peacekeeping operations.", ("M2",)),
            _passage(2, "Peacekeeping operations need well-trained troops.", ("M2",))]
    routing = Routing(primary=_match("M2", None))
    fr = compose("Que fait la Belgique pour les peacekeeping operations ?", hits, routing, False,
                 language="fr", catalogue=CATALOGUE).text
    assert fr.count("Cette information n'existe qu'en anglais :") == 1
    assert fr.index("Cette information") < fr.index("Belgium supports") < fr.index("well-trained troops")
    assert "anglais" not in compose("What about peacekeeping operations?", hits, routing,
                                    False, language="en", catalogue=CATALOGUE).text
    # A page in the question's language needs no note; one in another language gets it, in the question's.
    french = [_passage(1, "La Belgique soutient les opérations de maintien de la paix.", ("M2",), language="fr")]
    assert "n'existe qu'en" not in compose("Que fait la Belgique pour le maintien de la paix ?", french,
                                           routing, False, language="fr", catalogue=CATALOGUE).text
    assert compose("What does Belgium do for peace?", french, None, False,
                   language="en").text.startswith("This information exists only in French: La Belgique soutient")


@pytest.mark.parametrize("language, expected", [
    ("en", "No DGM directorate holds this topic (Energy: not assigned to a DGM directorate on the structure page)."),
    ("fr", "Aucune direction de la DGM n'est chargée de ce sujet (Energy : attribué à aucune direction de la DGM sur "
           "la page de structure)."),
    ("nl", "Geen enkele directie van de DGM is bevoegd voor dit onderwerp (Energy: op de structuurpagina aan geen "
           "enkele directie van de DGM toegewezen)."),
    ("de", "Keine Direktion der DGM ist für dieses Thema zuständig (Energy: auf der Strukturseite keiner Direktion "
           "der DGM zugeordnet)."),
])
def test_the_no_fit_sentence_says_who_holds_the_theme_in_the_question_language(language, expected):
    hits = [_passage(1, "The FPS Foreign Affairs follows multilateral diplomacy on energy.", themes=("Energy",))]
    routing = Routing(primary=None, no_fit="Energy: not assigned to a DGM directorate on the structure page")
    text = compose("energy diplomacy", hits, routing, False, language=language,
                   catalogue=CATALOGUE).text
    assert text.startswith(expected)


@pytest.mark.parametrize("language, expected", [
    ("en", "I'm sorry, the FPS pages I draw on do not cover this question, so I cannot give you a reliable answer. "
           "Passports, visas and consular help are not part of the multilateral policy pages I know; the FPS Foreign "
           "Affairs consular services are the right contact. I can tell you about: Human rights; Sanctions."),
    ("fr", "Je suis désolé, les pages du SPF sur lesquelles je m'appuie ne traitent pas de cette question ; je ne "
           "peux donc pas vous donner de réponse fiable. Les passeports, les visas et l'assistance consulaire ne font "
           "pas partie des pages de politique multilatérale que je connais ; les services consulaires du SPF Affaires "
           "étrangères sont le bon interlocuteur. Je peux vous renseigner sur : Human rights ; Sanctions."),
    ("nl", "Het spijt me, de pagina's van de FOD waarop ik steun behandelen deze vraag niet, dus ik kan u geen "
           "betrouwbaar antwoord geven. Paspoorten, visa en consulaire bijstand horen niet bij de pagina's over "
           "multilateraal beleid die ik ken; de consulaire diensten van de FOD Buitenlandse Zaken zijn het juiste "
           "aanspreekpunt. Ik kan u iets vertellen over: Human rights; Sanctions."),
    ("de", "Es tut mir leid, die Seiten des FÖD, auf die ich mich stütze, behandeln diese Frage nicht; daher kann ich "
           "Ihnen keine verlässliche Antwort geben. Reisepässe, Visa und konsularische Hilfe gehören nicht zu den "
           "Seiten über multilaterale Politik, die ich kenne; die konsularischen Dienste des FÖD Auswärtige "
           "Angelegenheiten sind der richtige Ansprechpartner. Ich kann Ihnen Auskunft geben zu: Human rights; "
           "Sanctions."),
])
def test_the_refusal_is_in_the_question_language(language, expected):
    assert abstention_text(("Human rights", "Sanctions"), "service", language) == expected


def _sectioned(n: int, section: str, directorates: tuple[str, ...] = (), themes: tuple[str, ...] = ()) -> Hit:
    return Hit(chunk=passage(n, f"Passage {n}.", section=section, directorates=directorates, themes=themes),
               score=1.0 / n)


@pytest.mark.parametrize("language, unit", [("en", "Directorate for Security Policy"),
                                            ("fr", "Direction Politique de Sécurité"),
                                            ("de", "Direktion Sicherheitspolitik")])
def test_refusal_topics_are_themes_and_units_never_section_names(language, unit):
    hits = [_sectioned(1, "Introduction", themes=("Introduction",)),  # navigation text: no topic
            _sectioned(2, "Structure", ("M1",)),
            _sectioned(3, "Remit"),  # the page's own remit section: no unit, no theme
            _sectioned(4, "Specific themes", ("M3",), ("Human rights",)),
            _sectioned(5, "Structure", ("M1",)),  # the same unit again
            _sectioned(6, "Energy", themes=("Energy",)),  # no unit holds it, but a question can name it
            _sectioned(7, "Sanctions", ("M2", "ME6"), ("Sanctions",))]
    assert suggestion_topics(hits, CATALOGUE, language) == (unit, "Human rights", "Energy")
    assert suggestion_topics(hits, CATALOGUE, language, limit=4)[-1] == "Sanctions"
    assert suggestion_topics(hits, None, language) == ()


def test_english_refusal_without_a_language_is_the_one_measured():
    assert abstention_text((), "policy") == abstention_text((), "policy", "en") == (
        "I'm sorry, the FPS pages I draw on do not cover this question, so I cannot give you a reliable answer.")


def test_every_language_has_every_sentence_and_a_missing_placeholder_is_an_error(monkeypatch):
    for lang in LANGUAGES:
        assert answer_texts(lang).language == lang
    assert answer_texts("it").language == "en"
    broken = {**compose_module.lexicon_section("fr", "answer"), "handled_by": "Ce sujet relève de {unit}."}
    monkeypatch.setattr(compose_module, "lexicon_section", lambda lang, key: broken)
    with pytest.raises(ValueError, match=r"fr.yaml: answer.handled_by must use the placeholder\(s\) \{ref\}, \{unit\}, "
                                         r"got \{unit\}"):
        answer_texts.__wrapped__("fr")


# -- end to end (the real model and index) -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("question, answer", [
    ("Which directorate handles cyber issues?",
     "This is handled by the Directorate for International Governance (M4) [1]. The Directorate for International "
     "Governance (M4) is dedicated to the management, promotion and coordination of Belgian policy in the following "
     "areas:\n- International economic and financial cooperation;\n- the fight against international organised "
     "financial crime;\n- cyber;\n- space;\n- the rule of law, including tackling corruption, money laundering and "
     "organised crime. [1]"),
    ("Who follows up the EU's external policies?",
     "This is handled by the Directorate for EU External Relations (ME6) [1]. It works under the joint responsibility "
     "of the DGM and the DGE [1]. The Directorate for EU External Relations (ME6) ensures the follow-up of all EU "
     "external policies (Community and CFSP), under the joint responsibility of the DGM and the DGE (Directorate "
     "General for European Affairs and Coordination). [1]"),
    ("What does the FPS say about migration?",
     "No DGM directorate holds this topic (Asylum and migration: not assigned to a DGM directorate on the structure "
     "page). The FPS Foreign Affairs aims to develop, monitor and outline guidelines for the administration, "
     "progression, development and coordination of Belgium's foreign policy on migration, the fight against human "
     "trafficking and the link between migration and development cooperation. [1]"),
])
def test_english_answers_are_as_they_were(assistant, question, answer):
    got = assistant.ask(question)
    assert got.language == "en" and got.answer == answer
    if got.directorate is not None:
        assert got.directorate.localized_name == got.directorate.name


@pytest.mark.slow
@pytest.mark.parametrize("question, language, code, lead, note, name", [
    ("Quelle direction s'occupe de la cybersécurité ?", "fr", "M4",
     "Ce sujet relève de la direction Gouvernance internationale (M4) [1].",
     "Cette information n'existe qu'en anglais : ", "direction Gouvernance internationale"),
    ("Welke directie houdt zich bezig met ontwapening?", "nl", "M5",
     "Dit wordt behandeld door de Directie Ontwapening en Non-proliferatie (M5) [1].",
     "Deze informatie bestaat alleen in het Engels: ", "Directie Ontwapening en Non-proliferatie"),
    ("Welche Direktion ist für Menschenrechte zuständig?", "de", "M3",
     "Zuständig ist die Direktion Menschenrechte (M3) [1].",
     "Diese Information gibt es nur auf Englisch: ", "Direktion Menschenrechte"),
])
def test_a_question_in_french_dutch_or_german_is_answered_in_it(assistant, question, language, code, lead, note,
                                                              name):
    got = assistant.ask(question)
    assert got.language == language
    assert got.directorate is not None and got.directorate.code == code
    assert got.answer.startswith(lead) and got.answer.count(note) == 1, got.answer
    assert "This is handled by" not in got.answer
    # The passage after the note is quoted as its page says it, in English, with its citation.
    quoted = got.answer.split(note, 1)[1].split(" [1]")[0]
    assert quoted and quoted in got.citations[0].text
    # The unit's name in the question's language travels with the match; its English name stays as it was.
    assert got.directorate.localized_name == name
    assert got.directorate.name == CATALOGUE.get(code).name


@pytest.mark.slow
def test_a_refusal_in_french(assistant):
    got = assistant.ask("Quelle est la recette des gaufres de Liège ?")
    assert got.abstained and got.answer.startswith("Je suis désolé, les pages du SPF")
