"""The same loaded model at another Matryoshka dimension, without loading it twice.

Every backend computes the model's full (``info.max_dim``) pooled vector and cuts it to
its ``dim`` at the end of the call (truncate, then L2-normalise), so another dimension
needs no other weights: ``at_dimension`` returns a shallow copy of the embedder that shares
the weights (and the llama.cpp lock, the HTTP session) and cuts at the new size. A
dimension rebuild uses it to re-embed the index with the indexer's own model instead of
loading a second copy (1.2 GB for Qwen3-0.6B).

    view = at_dimension(embedder, 256)   # close ``embedder`` when done, never ``view``
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from engine.errors import DimensionError
from engine.protocols import Embedder, ModelInfo, Tokenizer, Vector


class DimensionView:
    """An ``Embedder`` answering at ``dim`` with another embedder's loaded model."""

    def __init__(self, base: Embedder, dim: int) -> None:
        self._view = copy.copy(base)  # shares the weights; only ``dim`` differs
        self._view.dim = dim
        self.info: ModelInfo = base.info
        self.dim = dim
        self.max_length = base.max_length

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Documents at this view's dimension."""
        return self._view.embed_documents(texts)

    def embed_query(self, text: str, instruction: str | None = None) -> Vector:
        """A query at this view's dimension."""
        return self._view.embed_query(text, instruction)

    def tokenizer(self) -> Tokenizer:
        """The base model's tokenizer."""
        return self._view.tokenizer()

    def close(self) -> None:
        """Nothing to free: the weights belong to the base embedder, which closes them."""


def at_dimension(embedder: Embedder, dimension: int) -> Embedder:
    """``embedder``'s model answering at ``dimension`` (0: the model's full size).

    Raises ``DimensionError`` outside the model's Matryoshka range.
    """
    info = embedder.info
    dim = dimension or info.max_dim
    if not info.min_dim <= dim <= info.max_dim:
        raise DimensionError(
            f"Dimension {dim} is outside this model's range {info.min_dim}..{info.max_dim}"
        )
    if isinstance(embedder, DimensionView):
        embedder = embedder._view  # a copy of the real one: still never closed
    return DimensionView(embedder, dim)


__all__ = ["DimensionView", "at_dimension"]
