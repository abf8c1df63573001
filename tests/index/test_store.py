"""The FAISS vector store: flat, HNSW and IVF agree on small data."""

from __future__ import annotations

import numpy as np
import pytest

from index import VectorStore

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_types_agree_on_small_data(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store = VectorStore.build(x, kind)
    scores, ids = store.search(x[:20], 1)
    assert (ids[:, 0] == np.arange(20)).mean() >= 0.9
    with pytest.raises(ValueError, match="index type"):
        VectorStore.build(x, "annoy")
