"""The factory picks the backend from the spec and loads it through the protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.config import EmbedderConfig, RerankerConfig
from engine.errors import EngineError, ModelLoadError, ModelNotFound
from engine.factory import choose_backend, load_embedder, load_reranker
from engine.protocols import Embedder, Reranker
from engine.registry import STARTER
from engine.resolve import ResolvedModel


def _resolved(fmt: str, entry: object = None, path: Path | None = None) -> ResolvedModel:
    return ResolvedModel("spec", path, fmt, "id", "", entry)  # type: ignore[arg-type]


def test_auto_choice() -> None:
    assert choose_backend("auto", _resolved("gguf", path=Path("m.gguf"))) == "llamacpp"
    assert choose_backend("auto", _resolved("remote")) == "remote"
    assert choose_backend("auto", _resolved("hf", STARTER, Path("x"))) == "numpy"
    assert choose_backend("transformers", _resolved("hf", STARTER, Path("x"))) == "transformers"
    with pytest.raises(EngineError, match="Unknown backend"):
        choose_backend("onnx", _resolved("hf"))


def test_auto_qwen_folder_is_transformers(tiny_embedding_dir: Path) -> None:
    from engine.resolve import resolve

    assert choose_backend("auto", resolve(str(tiny_embedding_dir))) == "transformers"


def test_starter_loads_on_numpy(starter_model_dir: Path) -> None:
    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    try:
        assert isinstance(embedder, Embedder)
        assert embedder.info.backend == "numpy" and embedder.dim == 384
        assert embedder.embed_documents(["hello"]).shape == (1, 384)
    finally:
        embedder.close()


def test_qwen_loads_on_transformers(tiny_embedding_dir: Path, tiny_reranker_dir: Path) -> None:
    pytest.importorskip("torch")
    embedder = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir), device="cpu", dim=32))
    reranker = load_reranker(RerankerConfig(model=str(tiny_reranker_dir), device="cpu"))
    try:
        assert isinstance(embedder, Embedder) and isinstance(reranker, Reranker)
        assert embedder.info.backend == "transformers" and embedder.dim == 32
        scores = reranker.rank("q", ["a", "b"])
        assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))
    finally:
        embedder.close()
        reranker.close()


def test_numpy_backend_refuses_rerankers(starter_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="numpy"):
        load_reranker(RerankerConfig(model=str(starter_model_dir), backend="numpy"))


def test_missing_model_propagates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFound, match=r"Qwen/Qwen3-Embedding-0\.6B"):
        load_embedder(EmbedderConfig(model="Qwen/Qwen3-Embedding-0.6B"))
