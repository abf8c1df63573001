"""Fixtures of the ingestion tests: the shipped corpus read and chunked."""

from __future__ import annotations

import pytest

from ingest import chunk_corpus, load_documents
from tests.helpers import CORPUS


@pytest.fixture(scope="module")
def chunks():
    return chunk_corpus(CORPUS)[0]


@pytest.fixture(scope="module")
def docs():
    return {d.id: d for d in load_documents(CORPUS)}
