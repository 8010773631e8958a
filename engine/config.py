"""Frozen settings for loading a model, passed into backends through their constructors."""

from __future__ import annotations

from dataclasses import dataclass

BACKENDS = ("auto", "transformers", "llamacpp", "remote", "numpy")
DEVICES = ("auto", "cuda", "mps", "cpu", "metal")
DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class EmbedderConfig:
    """What embedding model to load and how.

    ``model`` is a spec: a local HF folder, a ``.gguf`` file, a hub name such as
    ``Qwen/Qwen3-Embedding-0.6B`` (looked up in the HF cache), or, with backend
    ``remote``, the model name the server expects.
    """

    model: str
    backend: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    dim: int | None = None  # None = the model's native size; else Matryoshka truncation
    max_length: int = 8192  # tokens per text, EOS included
    # Padded tokens per forward pass (length-sorted batches); None = the backend's measured
    # default (CUDA: 65536 up to hidden 1024, else 16384; CPU/MPS 2048: benchmarks/model_speed.py).
    batch_tokens: int | None = None
    allow_download: bool = False  # only an explicit user action sets this
    remote_url: str | None = None  # e.g. http://127.0.0.1:8080/v1
    api_key: str | None = None


@dataclass(frozen=True)
class RerankerConfig:
    """What reranking model to load and how (same spec rules as EmbedderConfig)."""

    model: str
    backend: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    max_length: int = 8192
    batch_size: int | None = None  # candidates per forward pass; None = 32 on CUDA, 8 elsewhere
    allow_download: bool = False
    remote_url: str | None = None
    api_key: str | None = None
