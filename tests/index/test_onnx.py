"""The ONNX Runtime embedder: the int8 export against the torch model."""

from __future__ import annotations

import numpy as np
import pytest

from index import PACKAGED_MODEL
from index.embedders import embedder_name

pytestmark = pytest.mark.slow


def test_int8_vectors_do_not_depend_on_the_batch_and_stay_close_to_fp32(embedder, torch_embedder):
    """The default int8 model embeds each text alone: a chunk's vector is the same whatever its batch, and
    a query is embedded exactly like a passage. Per-channel weights keep it within a few % of the fp32 model."""
    assert embedder.name == embedder_name(PACKAGED_MODEL, "onnx-int8")
    texts = ["Which directorate deals with NATO?", "climate change",
             "a much longer passage about the United Nations and the Security Council " * 8]
    together = embedder.encode(texts)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(embedder.encode([text])[0], together[i])
    np.testing.assert_array_equal(embedder.encode(texts[::-1])[::-1], together)
    cosine = (together * torch_embedder.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.97, cosine
