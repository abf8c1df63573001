"""Ingestion's value objects: documents carry their metadata."""

from __future__ import annotations


def test_documents_carry_metadata_and_no_invented_url(docs):
    assert set(docs) == {"dgm-structure", "fps-policy-themes"}
    for d in docs.values():
        assert d.title and d.meta.language == "en"
        assert d.meta.source_url == ""
