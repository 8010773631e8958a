"""The two protocols every backend implements, plus the model identity they report.

After sentence-transformers' encode_query/encode_document and CrossEncoder.rank: callers
(indexer, search, UI) depend only on these, so backends can be swapped or faked in UI tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float32]


@dataclass(frozen=True)
class ModelInfo:
    """Backend-independent identity of a loaded model; feeds the index fingerprint.

    The same weights loaded through transformers or as GGUF report the same model_id, so a
    user can switch backend without re-embedding (dimension and pooling permitting).
    """

    model_id: str  # e.g. "Qwen/Qwen3-Embedding-0.6B", "sentence-transformers/all-MiniLM-L6-v2"
    revision: str  # commit hash / file digest when known, else ""
    family: str  # "qwen3" | "bert" | "remote" | ...
    pooling: str  # "last" | "mean" | "cls" | "rank"
    min_dim: int  # smallest Matryoshka dimension allowed (== max_dim when MRL unsupported)
    max_dim: int  # native hidden size of the output
    uses_instruction: bool  # True for Qwen3: queries get "Instruct: ...\nQuery:"
    backend: str  # "transformers" | "llamacpp" | "remote" | "numpy"
    # Something the user should know about how the model runs here (e.g. llama.cpp fell back
    # to its plain kernels after a crash); not part of the model's identity.
    notice: str = ""


@runtime_checkable
class Tokenizer(Protocol):
    """Token boundaries in character offsets, so the chunker can cut exact spans."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Return (start, end) character offsets of each token of ``text``, no specials."""
        ...

    def count(self, text: str) -> int:
        """Number of tokens ``text`` costs the model (no special tokens)."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns documents and queries into L2-normalised float32 vectors of length ``dim``."""

    info: ModelInfo
    dim: int
    max_length: int

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Embed documents (no instruction); returns shape (len(texts), dim)."""
        ...

    def embed_query(self, text: str, instruction: str | None = None) -> Vector:
        """Embed one query with its task instruction (ignored by models without one)."""
        ...

    def tokenizer(self) -> Tokenizer:
        """The tokenizer whose tokens ``max_length`` counts."""
        ...

    def close(self) -> None:
        """Free model memory; the object is unusable afterwards."""
        ...


@runtime_checkable
class Reranker(Protocol):
    """Scores (query, document) pairs; higher is more relevant, in [0, 1]."""

    info: ModelInfo

    def rank(self, query: str, docs: Sequence[str], instruction: str | None = None) -> Vector:
        """Return one relevance probability per doc, in input order."""
        ...

    def close(self) -> None:
        """Free model memory."""
        ...
