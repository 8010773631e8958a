"""``app.loaders`` model loading: consent to download reaches the resolver, on real caches."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.loaders import make_embedder
from app.settings import Settings
from engine.errors import ModelNotFound
from tests.unit.engine.test_resolve import make_cache

STARTER_ID = "sentence-transformers/all-MiniLM-L6-v2"


def test_cached_hub_model_loads_with_or_without_consent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starter_model_dir: Path
) -> None:
    hub = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    snapshot = make_cache(hub, STARTER_ID, starter_model_dir)
    for sub in (p for p in starter_model_dir.iterdir() if p.is_dir()):  # e.g. 1_Pooling/
        shutil.copytree(sub, snapshot / sub.name)
    for consent in (False, True):
        embedder = make_embedder(Settings(embed_model=STARTER_ID, allow_download=consent))
        try:
            assert embedder.info.model_id == STARTER_ID
            vector = embedder.embed_documents(["a lighthouse on the coast"])
            assert vector.shape == (1, embedder.dim) and np.isfinite(vector).all()
        finally:
            embedder.close()


def test_consent_is_passed_to_the_resolver(unreachable_hub: str) -> None:
    spec = "Qwen/Qwen3-Embedding-0.6B"
    with pytest.raises(ModelNotFound) as refused:
        make_embedder(Settings(embed_model=spec))
    assert "is not in the Hugging Face cache" in str(refused.value)  # never went online
    with pytest.raises(ModelNotFound) as tried:
        make_embedder(Settings(embed_model=spec, allow_download=True))
    message = str(tried.value)
    assert f"Could not download {spec}: cannot reach {unreachable_hub}" in message
    assert f"hf download {spec}" in message
