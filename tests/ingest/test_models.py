"""Ingestion's value objects: documents carry their metadata."""

from __future__ import annotations


def test_documents_carry_metadata_and_no_invented_url(docs):
    assert set(docs) == {"dgm-structure", "fps-policy-themes"}
    for d in docs.values():
        assert d.title and d.meta.language == "en"
    # The structure page's address is known; the policy-themes page's is not, and is never invented.
    assert docs["dgm-structure"].meta.source_url == (
        "https://diplomatie.belgium.be/en/about-us/directorate-general-multilateral-affairs-and-globalisation-dgm")
    assert docs["fps-policy-themes"].meta.source_url == ""
