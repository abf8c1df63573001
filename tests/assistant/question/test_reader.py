"""The question reader: a question about a unit named by code or alias is embedded with the unit's full name."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


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
