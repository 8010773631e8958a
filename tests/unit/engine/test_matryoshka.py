"""``engine.matryoshka.at_dimension``: another Matryoshka size from the model already loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.config import EmbedderConfig
from engine.errors import DimensionError
from engine.factory import load_embedder
from engine.matryoshka import at_dimension

pytestmark = pytest.mark.torch
TEXTS = ["The lighthouse keeper logs every ship.", "Knead the dough, then bake the bread."]


def test_view_equals_a_model_loaded_at_that_dimension(tiny_embedding_dir: Path) -> None:
    full = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir)))
    half = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir), dim=32))
    try:
        view = at_dimension(full, 32)
        assert view.dim == 32 and view.info == full.info and full.dim == 64
        got = view.embed_documents(TEXTS)
        assert got.shape == (2, 32)
        np.testing.assert_allclose(got, half.embed_documents(TEXTS), atol=1e-5)
        np.testing.assert_allclose(view.embed_query("bread"), half.embed_query("bread"), atol=1e-5)
        assert full.embed_documents(TEXTS).shape == (2, 64)  # the base keeps its own size
        back = at_dimension(half, 0)  # up again from a cut model: the weights give all 64
        np.testing.assert_allclose(back.embed_documents(TEXTS), full.embed_documents(TEXTS),
                                   atol=1e-5)  # fmt: skip
        view.close()  # frees nothing: the base still embeds
        assert full.embed_documents(TEXTS[:1]).shape == (1, 64)
    finally:
        full.close()
        half.close()


def test_out_of_range_dimension_is_refused(tiny_embedding_dir: Path) -> None:
    full = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir)))
    try:
        with pytest.raises(DimensionError, match=r"range 32\.\.64"):
            at_dimension(full, 16)
        with pytest.raises(DimensionError):
            at_dimension(full, 128)
    finally:
        full.close()
