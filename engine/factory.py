"""Pick and load the backend for a model spec; the one entry point callers use.

Backend modules are imported only when chosen, so the base install (no torch, no
llama-cpp-python) can still load the starter model and the remote backend.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from engine.config import BACKENDS, EmbedderConfig, RerankerConfig
from engine.errors import BackendUnavailable, EngineError
from engine.protocols import Embedder, Reranker
from engine.resolve import ResolvedModel, resolve

_MODULES = {
    "transformers": "engine.backends.transformers",
    "llamacpp": "engine.backends.llamacpp",
    "remote": "engine.backends.remote",
    "numpy": "engine.backends.numpy_bert",
}


def _is_bert(resolved: ResolvedModel) -> bool:
    """A BERT folder (the starter model): the numpy backend runs it without torch."""
    if resolved.entry is not None:
        return resolved.entry.family == "bert"
    if resolved.path is None or resolved.format != "hf":
        return False
    try:
        config = json.loads((resolved.path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("model_type") == "bert")


def choose_backend(requested: str, resolved: ResolvedModel) -> str:
    """``auto``: GGUF -> llamacpp, remote -> remote, BERT -> numpy, anything else -> transformers."""
    if requested not in BACKENDS:
        raise EngineError(f"Unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}.")
    if requested != "auto":
        return requested
    if resolved.format == "gguf":
        return "llamacpp"
    if resolved.format == "remote":
        return "remote"
    return "numpy" if _is_bert(resolved) else "transformers"


def backend_module(name: str) -> ModuleType:
    """Import ``engine.backends.<name>``; a module not built/installed is BackendUnavailable."""
    module_name = _MODULES[name]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise BackendUnavailable(f"The {name} backend is not available in this build.") from exc
        raise


def _resolve(
    model: str, backend: str, remote_url: str | None, allow_download: bool
) -> ResolvedModel:
    remote = backend == "remote" or (backend == "auto" and bool(remote_url))
    return resolve(model, allow_download=allow_download, remote=remote)


def measured_choice(config: EmbedderConfig, resolved: ResolvedModel) -> EmbedderConfig:
    """``auto`` settings replaced by this machine's remembered fastest way to run this copy.

    Only measurements of the same file or folder count, on a backend that is installed; the
    user's explicit backend, device or precision always wins.
    """
    if (config.backend, config.device, config.dtype) != ("auto", "auto", "auto"):
        return config
    if resolved.path is None:
        return config
    from engine.calibrate import fastest, remembered
    from engine.machine import installed

    needs = {"transformers": "transformers", "llamacpp": "llama_cpp", "numpy": "numpy"}
    same = [
        m
        for m in remembered()
        if Path(m.candidate.model) == resolved.path and installed(needs[m.candidate.backend])
    ]
    best = fastest(same)
    if best is None:
        return config
    chosen = best.candidate
    return replace(config, backend=chosen.backend, device=chosen.device, dtype=chosen.dtype)


def load_embedder(config: EmbedderConfig) -> Embedder:
    """Resolve ``config.model`` and load it on the chosen backend (measured, when ``auto``)."""
    resolved = _resolve(config.model, config.backend, config.remote_url, config.allow_download)
    config = measured_choice(config, resolved)
    module = backend_module(choose_backend(config.backend, resolved))
    embedder: Embedder = module.load_embedder(resolved, config)
    return embedder


def load_reranker(config: RerankerConfig) -> Reranker:
    """Resolve ``config.model`` and load it as a reranker on the chosen backend."""
    resolved = _resolve(config.model, config.backend, config.remote_url, config.allow_download)
    module = backend_module(choose_backend(config.backend, resolved))
    reranker: Reranker = module.load_reranker(resolved, config)
    return reranker
