"""Small helpers the CLI and the window share: open the store, load models, fingerprint.

Engine modules are imported inside functions so ``quarry status`` never pays for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from app import paths
from app.search import CPU_RERANK_DEPTH, GPU_RERANK_DEPTH
from app.settings import Settings
from engine.protocols import Embedder, Reranker
from storage.models import Fingerprint
from storage.store import Store

log = logging.getLogger(__name__)


def open_store(readonly: bool = False, path: Path | None = None) -> Store:
    """The index at ``path`` (default: ``paths.database_path()``)."""
    return Store.open(path or paths.database_path(), readonly=readonly)


def make_embedder(settings: Settings, on_notice: Callable[[str], None] | None = None) -> Embedder:
    """Load the configured embedder, or the default one (downloading it only with consent).

    When the default is the bundled starter model, the resolver's notice goes to
    ``on_notice`` (the CLI prints it on stderr), else to the log.
    """
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder
    from engine.resolve import default_embedding_spec

    spec = settings.embed_model
    if not spec:
        spec, notice = default_embedding_spec()
        if notice:
            if on_notice is not None:
                on_notice(notice)
            else:
                log.warning("%s", notice)
    config = EmbedderConfig(
        model=spec,
        backend=settings.embed_backend,
        device=settings.device,
        dtype=settings.precision,
        dim=settings.dimension or None,
        remote_url=settings.remote_url or None,
        allow_download=settings.allow_download,
    )
    return load_embedder(config)


def make_reranker(settings: Settings) -> Reranker | None:
    """Load the configured reranker; None when disabled or none is available."""
    if not settings.rerank_enabled:
        return None
    from engine.config import RerankerConfig
    from engine.factory import load_reranker
    from engine.resolve import default_reranker_spec

    spec = settings.rerank_model or default_reranker_spec()
    if not spec:
        return None
    config = RerankerConfig(
        model=spec,
        backend=settings.embed_backend,
        device=settings.device,
        dtype=settings.precision,
        remote_url=settings.remote_url or None,
        allow_download=settings.allow_download,
    )
    return load_reranker(config)


def rerank_depth(settings: Settings) -> int:
    """Settings' depth, or by device: small on CPU, larger on a GPU."""
    if settings.rerank_depth > 0:
        return settings.rerank_depth
    return GPU_RERANK_DEPTH if settings.device in ("cuda", "mps", "metal") else CPU_RERANK_DEPTH


def fingerprint_for(embedder: Embedder, chunker_version: str, heading_prefix: bool) -> Fingerprint:
    """The document-side fingerprint the pipeline writes under (Qwen3 documents: no instruction)."""
    info = embedder.info
    return Fingerprint(
        model_id=info.model_id,
        revision=info.revision,
        dim=embedder.dim,
        pooling=info.pooling,
        doc_instruction="",
        chunker_version=chunker_version,
        heading_prefix=heading_prefix,
    )
