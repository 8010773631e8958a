"""Small helpers the CLI and the window share: open the store, load models.

Engine modules are imported inside functions so ``quarry status`` never pays for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app import paths
from app.search import CPU_RERANK_DEPTH, GPU_RERANK_DEPTH
from app.settings import Settings
from engine.config import EmbedderConfig  # plain dataclasses: costs nothing to import
from engine.protocols import Embedder, Reranker
from storage.store import Store

log = logging.getLogger(__name__)


def open_store(readonly: bool = False, path: Path | None = None) -> Store:
    """The index at ``path`` (default: ``paths.database_path()``)."""
    return Store.open(path or paths.database_path(), readonly=readonly)


def _load_options(settings: Settings) -> dict[str, Any]:
    """The config fields the embedder and the reranker both take from settings."""
    return {
        "backend": settings.embed_backend,
        "device": settings.device,
        "dtype": settings.precision,
        "remote_url": settings.remote_url or None,
        "allow_download": settings.allow_download,
    }


def make_embedder(settings: Settings, on_notice: Callable[[str], None] | None = None) -> Embedder:
    """Load the configured embedder, or the default one (downloading it only with consent).

    When the default is the bundled starter model, the resolver's notice goes to
    ``on_notice`` (the CLI prints it on stderr), else to the log.
    """
    from engine.resolve import default_embedding_spec

    tell = on_notice or (lambda text: log.warning("%s", text))
    spec = settings.embed_model
    if not spec:
        spec, notice = default_embedding_spec()
        if notice:
            tell(notice)
    config = EmbedderConfig(model=spec, dim=settings.dimension or None, **_load_options(settings))
    embedder = _load_fitting(config, tell)
    if embedder.info.notice:
        tell(embedder.info.notice)
    return embedder


def _load_fitting(config: EmbedderConfig, tell: Callable[[str], None]) -> Embedder:
    """Load ``config``; a setting this model or machine cannot honour falls back, said aloud.

    A dimension the model cannot give, or a backend, device or precision it cannot run on
    (typed for another model or machine, or edited by hand), must not stop indexing and
    search: the model's full size and the automatic choices always work. A remote server
    is not replaced by a local model: its model name means nothing here.
    """
    from engine.errors import DimensionError, EngineError
    from engine.factory import load_embedder

    try:
        return load_embedder(config)
    except DimensionError as exc:
        tell(f"{exc} Using the model's full size; change it in Settings > Model.")
        return _load_fitting(replace(config, dim=None), tell)
    except EngineError as exc:
        auto = replace(config, backend="auto", device="auto", dtype="auto")
        if auto == config or config.backend == "remote":
            raise
        tell(
            f"{str(exc).rstrip('.')}. Using the automatic backend, device and precision"
            " instead; change them"
            " in Settings > Model."
        )
        return _load_fitting(auto, tell)


def settings_model_notice(spec: str) -> str:
    """What the CLI says when the model comes from Settings rather than the command line."""
    return f"using the embedding model {spec} (embed_model in Settings)"


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
    return load_reranker(RerankerConfig(model=spec, **_load_options(settings)))


def rerank_depth(settings: Settings) -> int:
    """Settings' depth, or by device: small on CPU, larger on a GPU."""
    if settings.rerank_depth > 0:
        return settings.rerank_depth
    return GPU_RERANK_DEPTH if settings.device in ("cuda", "mps", "metal") else CPU_RERANK_DEPTH
