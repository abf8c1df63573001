"""A corpus with another directorate-general's structure page: its units come from the page, and questions
route to them through the real pipeline (real packaged MiniLM, real FAISS), with no YAML and no code edited.

The pages are the growth fixture's (eval/growth/: fictional) structure page of a Directorate-General for
Consular Affairs in English and French, with consular and legalisation pages; the corpus has no
directorates.yaml and no themes.yaml.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from assistant.models import Hit
from assistant.scope import EVIDENCE_DEPTH
from eval.corpora import GROWTH_DIR

PAGES = ("dgc-structure-en", "dgc-structure-fr", "legalisation-en", "consular-fees-en", "passport-abroad-fr",
         "travel-advice-nl", "arms-trade-treaty-en")


@pytest.fixture(scope="module")
def consular(tmp_path_factory, embedder):
    """An assistant over the consular corpus, built with the same factory as `dgm-assistant build`."""
    from assistant.config import Settings
    from assistant.factory import build, load_assistant

    root = tmp_path_factory.mktemp("consular")
    corpus = root / "corpus"
    (corpus / "pages").mkdir(parents=True)
    entries = yaml.safe_load((GROWTH_DIR / "documents.yaml").read_text(encoding="utf-8"))["documents"]
    chosen = [e for e in entries if e["id"] in PAGES]
    assert {e["id"] for e in chosen} == set(PAGES)
    for e in chosen:
        name = str(e["file"]).removeprefix("pages/")
        shutil.copy(GROWTH_DIR / "pages" / name, corpus / "pages" / name)
        e["file"] = name
    (corpus / "documents.yaml").write_text(yaml.safe_dump({"documents": chosen}, allow_unicode=True),
                                           encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", feedback_path=root / "feedback.jsonl",
                        database_url=f"sqlite:///{root / 'dgm.db'}")
    build(settings, embedder=embedder, progress=False)
    return load_assistant(settings, embedder=embedder)


def test_the_units_are_the_other_structure_pages(consular):
    cat = consular.catalogue
    assert cat.codes == ("C1", "C2", "C3", "C3.1", "C3.2", "C4", "C5", "C6", "C0.1", "C0.0")
    assert not {"M1", "M3", "M5"} & set(cat.codes)  # a policy page naming M5 makes no unit
    assert cat.get("C5").name == "Directorate for Legalisation"
    assert cat.get("C5").name_in("fr") == "Direction Légalisation"
    assert cat.get("C2").name_in("nl") == "Directie Crisisbeheer"  # from the Dutch travel advice page
    assert cat.get("C0.1").kind == "service"


@pytest.mark.parametrize("question, code", [
    ("Which directorate legalises Belgian public documents for use abroad?", "C5"),
    ("Who issues apostilles?", "C5"),
    ("Which unit helps Belgians who are arrested or detained abroad?", "C1"),
    ("Who deals with births and marriages recorded abroad?", "C4"),
    ("Who selects the honorary consuls?", "C0.1"),
    ("What does the Directorate for Crisis Management do?", "C2"),
    ("What does C3.2 do?", "C3.2"),
    ("Quelle direction s'occupe de l'état civil et de la nationalité ?", "C4"),
    ("Quel service délivre les passeports ?", "C3.1"),
])
def test_questions_are_answered_and_routed_to_its_units(consular, question, code):
    answer = consular.ask(question)
    assert not answer.abstained, (question, answer.answer)
    assert answer.directorate is not None and answer.directorate.code == code, (question, answer.directorate)
    assert f"({code})" in answer.answer, answer.answer  # the answer names the unit


@pytest.mark.parametrize("question, code", [
    ("Who sets the consular fees?", "C0.1"),
    ("Who handles short-stay visas?", "C6"),
    ("Who drafts the travel advice for each country?", "C2"),
    ("Who issues diplomatic passports?", "C3.1"),
])
def test_consular_questions_route_to_its_units_whatever_the_scope_decides(consular, question, code):
    # Whether the scope stage answers them is the fit's call (the seeds' dev, on which it is fit, has no
    # consular page); routing, which the trace shows, finds the unit all the same.
    answer = consular.ask(question, trace=True)
    assert answer.trace is not None and answer.trace.routing.primary is not None
    assert answer.trace.routing.primary.code == code, (question, answer.trace.routing.primary)


def test_a_request_for_a_service_counts_against_the_scope_only_where_no_page_offers_one(consular, assistant):
    """What a page offers is read from its title by the question-kind classifier: a consular page reads as
    offering a service, a policy page does not. The scope's "service" signal is the question's request for
    one, less what the best passages' pages offer: whole over the seeds, far smaller over consular pages."""
    from assistant.config import Settings
    from assistant.factory import load_assistant

    # The shipped fit (the test corpus has none of its own), for its question-kind classifier.
    fitted = load_assistant(Settings(index_dir=consular.engine.index.path, fits_dir=Settings().corpus_dir / "fits"),
                            embedder=consular.engine.embedder)
    engine = fitted.engine
    assert engine.reader.kinds is not None
    by_doc = {c.doc_id: c for c in engine.index.chunks}
    hit = lambda doc: Hit(chunk=by_doc[doc], score=1.0)  # noqa: E731
    assert engine.offered([hit("legalisation-en")], "service") > 0.5
    assert engine.offered([hit("arms-trade-treaty-en")], "service") < 0.2
    assert engine.offered([hit("arms-trade-treaty-en"), hit("consular-fees-en")], "service") == \
        engine.offered([hit("consular-fees-en")], "service")
    assert engine.offered([], "service") == 0.0

    question = "How do I get my birth certificate legalised for use abroad?"
    here = fitted.ask(question, trace=True).trace
    seeds = assistant.ask(question, trace=True).trace
    assert here is not None and seeds is not None
    asked = here.question.kinds["service"]
    assert asked > 0.5 and seeds.question.kinds["service"] == pytest.approx(asked, abs=1e-6)
    assert seeds.scope.features["service"] == pytest.approx(asked, abs=0.02)  # no seed page offers a service
    offered = engine.offered(list(here.retrieval.hits[:EVIDENCE_DEPTH]), "service")
    assert offered > 0.5
    assert here.scope.features["service"] == pytest.approx(asked * (1 - offered), abs=1e-3)
    # The question model's verdict against an errand counts only as far as no best page offers a service.
    verdict = fitted.scope_weights.question_model(engine.embedder.encode_query(here.question.embed_text))
    assert verdict < 0  # an errand reads as off-topic to a model fit on the seeds' dev
    assert here.scope.features["served"] == pytest.approx(asked * offered, abs=1e-3)
    assert here.scope.features["question_model"] == pytest.approx(verdict * (1 - asked * offered), abs=1e-3)
    seed_verdict = assistant.scope_weights.question_model(
        assistant.engine.embedder.encode_query(seeds.question.embed_text))
    assert seeds.scope.features["served"] < 0.05  # no seed page offers a service: the verdict counts (nearly) whole
    assert seeds.scope.features["question_model"] == pytest.approx(
        seed_verdict * (1 - seeds.scope.features["served"]) if seed_verdict < 0 else seed_verdict, abs=1e-3)
