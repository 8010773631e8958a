"""The model registry: facts the UI and backends rely on before any weights exist."""

from __future__ import annotations

import pytest

from engine import registry


@pytest.mark.parametrize(("params", "dim"), [("0.6B", 1024), ("4B", 2560), ("8B", 4096)])
def test_qwen3_embedding_dims(params: str, dim: int) -> None:
    entry = registry.lookup(f"Qwen/Qwen3-Embedding-{params}")
    assert entry is not None
    assert (entry.max_dim, entry.min_dim, entry.pooling) == (dim, 32, "last")
    assert entry.uses_instruction and entry.kind == "embedding"
    assert f"Qwen/Qwen3-Embedding-{params}-GGUF" in entry.gguf_repos


def test_six_qwen_models_sizes_grow() -> None:
    embeddings = registry.embedding_models()
    rerankers = registry.reranker_models()
    assert len(embeddings) == 3 and len(rerankers) == 3
    for family in (embeddings, rerankers):
        sizes = [e.download_mb for e in family]
        assert sizes == sorted(sizes) and sizes[0] > 500


def test_starter_has_no_matryoshka_range() -> None:
    starter = registry.lookup("sentence-transformers/all-MiniLM-L6-v2")
    assert starter is registry.STARTER
    assert starter.min_dim == starter.max_dim == 384
    assert starter.pooling == "mean" and not starter.uses_instruction and not starter.multilingual


def test_lookup_is_case_insensitive_and_misses_cleanly() -> None:
    assert registry.lookup("qwen/qwen3-reranker-4b") is registry.MODELS["Qwen/Qwen3-Reranker-4B"]
    assert registry.lookup("someone/else") is None


def test_recommended_backend_per_platform() -> None:
    assert registry.recommended_backend("cuda") == "transformers"
    assert registry.recommended_backend("cpu", native_bf16=True) == "transformers"
    assert registry.recommended_backend("cpu", native_bf16=False) == "llamacpp"
    assert registry.recommended_backend("apple", native_bf16=True) == "llamacpp"
    assert registry.platform_key(cuda=True) == "cuda"
    assert registry.platform_key(cuda=False, system="Windows") == "cpu"
