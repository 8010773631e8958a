"""The index identity a model and the user's settings give: its chunker and its fingerprint.

Shared by the indexer (phase 1 writes under it), the pipeline and a rebuild (which
needs the fingerprint of the index it fills), so none of them imports another for it.
"""

from __future__ import annotations

from app.chunker import Chunker, ChunkerConfig
from app.settings import Settings
from engine.protocols import Embedder
from storage.models import Fingerprint


def chunker_for(embedder: Embedder, settings: Settings) -> Chunker:
    """A chunker sized for both the user's setting and the model's context window."""
    target = max(16, min(settings.chunk_tokens, embedder.max_length - 4))
    overlap = max(0, min(settings.chunk_overlap, target // 4))
    config = ChunkerConfig(target, overlap, settings.heading_prefix)
    return Chunker(embedder.tokenizer(), config)


def make_fingerprint(embedder: Embedder, chunker: Chunker) -> Fingerprint:
    """The index identity for this model + chunking configuration."""
    info = embedder.info
    return Fingerprint(
        model_id=info.model_id,
        revision=info.revision,
        dim=embedder.dim,
        pooling=info.pooling,
        doc_instruction="",
        chunker_version=chunker.config.fingerprint(),
        heading_prefix=chunker.config.heading_prefix,
    )


def rebuild_fingerprint(embedder: Embedder, settings: Settings) -> Fingerprint:
    """The fingerprint the pipeline would write under with this embedder and settings."""
    return make_fingerprint(embedder, chunker_for(embedder, settings))


__all__ = ["chunker_for", "make_fingerprint", "rebuild_fingerprint"]
