"""What the in-process embedders (numpy BERT, transformers) share: token ids cut to the
model's length, packed into length-sorted batches, pooled by the backend's ``_forward``.

Keeping it in one place is what makes the same weights give the same vectors whichever
library runs them (``engine.pooling.embed_batched`` does the sorting, packing and MRL).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from engine.pooling import cut_keeping_last, embed_batched
from engine.protocols import ModelInfo, Vector
from engine.registry import RegistryEntry
from engine.tokenizer import HFTokenizer


class LocalEmbedder:
    """Base of the in-process embedders; a backend sets the attributes and ``_forward``."""

    info: ModelInfo
    dim: int
    max_length: int
    batch_tokens: int
    _tokenizer: HFTokenizer
    # Fixed texts the model was trained with before each query / document (E5); see
    # ``engine.registry.RegistryEntry``. Set from the registry entry by ``use_prefixes``.
    query_prefix: str = ""
    document_prefix: str = ""

    def use_prefixes(self, entry: RegistryEntry | None) -> None:
        """Take the query/document prefixes of the registry entry (none when unknown)."""
        if entry is not None:
            self.query_prefix, self.document_prefix = entry.query_prefix, entry.document_prefix

    def tokenizer(self) -> HFTokenizer:
        """The tokenizer whose tokens ``max_length`` counts."""
        return self._tokenizer

    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """[CLS] text [SEP] (BERT), cut to ``max_length`` keeping the final [SEP]."""
        full = self._tokenizer.encode_batch(texts, special=True)
        return [cut_keeping_last(ids, self.max_length) for ids in full]

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Embed documents (no instruction, the model's document prefix if it has one);
        shape (len(texts), dim), L2-normed."""
        if self.document_prefix:
            texts = [self.document_prefix + text for text in texts]
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> Vector:
        ids = self.encode_ids(texts) if texts else []
        return embed_batched(ids, self._forward, self.batch_tokens, self.info.max_dim, self.dim)

    def _forward(self, batch: list[list[int]]) -> NDArray[np.floating]:
        """Raw pooled vectors (float32, not normalised) for one batch of ids."""
        raise NotImplementedError
