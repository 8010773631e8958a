"""Make sure the models the settings name are on disk before anything loads them (Qt-free).

The window runs ``prepare_models`` on a worker thread before it starts indexing: a model
already on disk passes at once; a missing one is downloaded only with the user's consent
(``Settings.allow_download``), reporting bytes, then loaded once to prove it works. Any
failure is a ``ModelUnavailable`` naming the model; the window then falls back to the
bundled starter model (``starter_settings``) so search never stops working.

    ModelUnavailable (EngineError)   the model could not be found, fetched or loaded
    DownloadCancelled                the user quit during a download
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from app.settings import Settings
from engine.errors import EngineError
from engine.registry import RegistryEntry

# (model spec, done bytes, total bytes); total 0 while unknown
DownloadProgress = Callable[[str, int, int], None]


class DownloadCancelled(Exception):
    """Raised from the progress callback to stop a download (the app is quitting)."""


class ModelUnavailable(EngineError):
    """A configured model cannot be used; ``kind`` is "embedding" or "reranker"."""

    def __init__(self, kind: str, spec: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.spec = spec


@dataclass(frozen=True)
class ModelsPrepared:
    """What ``prepare_models`` did: the specs it downloaded (empty when all were present)."""

    downloaded: tuple[str, ...] = ()


def wanted_models(settings: Settings) -> list[tuple[str, str]]:
    """(kind, spec) for each explicitly configured local or hub model; remote ones are skipped."""
    if settings.embed_backend == "remote" or (
        settings.embed_backend == "auto" and settings.remote_url
    ):
        return []
    wanted = [("embedding", settings.embed_model)]
    if settings.rerank_enabled:
        wanted.append(("reranker", settings.rerank_model))
    return [(kind, spec.strip()) for kind, spec in wanted if spec.strip()]


def prepare_models(
    settings: Settings,
    on_progress: DownloadProgress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ModelsPrepared:
    """Find each configured model, downloading a missing one only with consent.

    Raises ``ModelUnavailable`` (what failed and what to do), or ``DownloadCancelled``.
    """
    from engine.errors import ModelNotFound
    from engine.resolve import resolve

    downloaded: list[str] = []
    for kind, spec in wanted_models(settings):
        try:
            resolve(spec)  # on disk already: nothing goes online
            continue
        except ModelNotFound as exc:
            if not settings.allow_download:
                raise ModelUnavailable(kind, spec, str(exc)) from exc
        except EngineError as exc:
            raise ModelUnavailable(kind, spec, str(exc)) from exc

        def report(done: int, total: int, spec: str = spec) -> None:
            if cancelled():
                raise DownloadCancelled(spec)
            if on_progress is not None:
                on_progress(spec, done, total)

        try:
            resolve(spec, allow_download=True, on_progress=report)
        except EngineError as exc:
            if cancelled():
                raise DownloadCancelled(spec) from exc
            raise ModelUnavailable(kind, spec, str(exc)) from exc
        downloaded.append(spec)
    if downloaded:
        check_loads(settings)
    return ModelsPrepared(tuple(downloaded))


def check_loads(settings: Settings) -> None:
    """Load the configured models once (fresh downloads only) so a bad one fails here."""
    from app.loaders import make_embedder, make_reranker

    offline = replace(settings, allow_download=False)
    for kind, make in (("embedding", make_embedder), ("reranker", make_reranker)):
        try:
            model = make(offline)
        except EngineError as exc:
            spec = settings.embed_model if kind == "embedding" else settings.rerank_model
            raise ModelUnavailable(kind, spec, str(exc)) from exc
        if model is not None:
            model.close()


def fallback_settings(settings: Settings, failure: ModelUnavailable) -> Settings:
    """Settings that work without the failed model: the starter embedder, or no reranker."""
    if failure.kind == "reranker":
        return replace(settings, rerank_model="")
    return starter_settings(settings)


def starter_settings(settings: Settings) -> Settings:
    """The bundled starter model as the embedder (its own full dimension)."""
    from engine.resolve import starter_model_path

    starter = starter_model_path()
    return replace(
        settings,
        embed_model=str(starter) if starter is not None else "",
        embed_backend="auto",
        dimension=0,
    )


def language_reach(entry: RegistryEntry) -> str:
    """What a bundled model reads: ``about 100 languages`` or ``English only``."""
    return "about 100 languages" if entry.multilingual else "English only"


def starter_description() -> str:
    """``multilingual-e5-small, about 100 languages`` or ``all-MiniLM-L6-v2, English only``."""
    from engine.resolve import starter_entry

    entry = starter_entry()
    if entry is None:
        return "not installed"
    return f"{entry.short_name}, {language_reach(entry)}"


def is_starter(settings: Settings) -> bool:
    """True when the settings already use the starter model (nothing to fall back to)."""
    from engine.resolve import starter_model_path

    starter = starter_model_path()
    return starter is not None and settings.embed_model == str(starter)


def describe_size(done: int, total: int) -> str:
    """ "35% of 1.2 GB", or "120 MB" while the total is unknown."""
    if total <= 0:
        return _size(done)
    percent = min(100, int(100 * done / total))
    return f"{percent}% of {_size(total)}"


def _size(n: int) -> str:
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f} GB"
    if n >= 1_000_000:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e3:.0f} kB"


def needs_download(spec: str) -> bool:
    """True for a hub name that is not in the local cache (checked offline, in milliseconds)."""
    import re
    from pathlib import Path

    from engine.resolve import cached_snapshot

    spec = spec.strip()
    repo_id = spec.partition(":")[0]
    if not spec or Path(spec).expanduser().exists():
        return False
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        return False
    return cached_snapshot(repo_id) is None
