"""Which model to suggest on this machine, and how big its download is (Qt-free).

Reads ``engine.registry`` defensively so the welcome screen opens even if the engine is
half-built; GPU detection avoids importing torch on the main thread (it takes seconds).
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class ModelChoice:
    """One option in the welcome screen."""

    label: str
    spec: str  # value for Settings.embed_model ("" = automatic)
    backend: str  # value for Settings.embed_backend
    download_mb: int  # 0 = already on disk
    note: str
    recommended: bool = False


def _registry() -> ModuleType | None:
    try:
        return importlib.import_module("engine.registry")
    except Exception:  # the window must open without a finished engine
        return None


def starter_spec() -> str:
    """The bundled starter model's folder, or "" (automatic) when the engine cannot say."""
    try:
        resolve = importlib.import_module("engine.resolve")
        path = resolve.starter_model_path()
    except Exception:
        return ""
    return str(path) if path else ""


def has_nvidia_gpu() -> bool:
    """A cheap check (driver present) that never imports torch."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def machine_kind() -> str:
    """``cuda``, ``apple`` or ``cpu``."""
    if has_nvidia_gpu():
        return "cuda"
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "apple"
    return "cpu"


def _backend_for(kind: str, registry: ModuleType | None) -> str:
    table = getattr(registry, "RECOMMENDED_BACKEND", None) or {}
    default = "transformers" if kind == "cuda" else "llamacpp"
    return str(table.get(kind, default))


def _qwen_sizes(registry: ModuleType | None) -> list[tuple[str, str, int]]:
    """(model_id, params, download_mb) for the Qwen3 embedding models, smallest first."""
    if registry is not None and hasattr(registry, "embedding_models"):
        try:
            return [(e.model_id, e.params, e.download_mb) for e in registry.embedding_models()]
        except Exception:
            pass
    return [("Qwen/Qwen3-Embedding-0.6B", "0.6B", 1200), ("Qwen/Qwen3-Embedding-4B", "4B", 8000)]


def model_choices(kind: str | None = None) -> list[ModelChoice]:
    """The welcome screen's options, the suggested one first."""
    registry = _registry()
    kind = kind or machine_kind()
    backend = _backend_for(kind, registry)
    where = {
        "cuda": "NVIDIA GPU (torch, CUDA)",
        "apple": "Apple silicon (GGUF)",
        "cpu": "CPU (GGUF)",
    }
    sizes = _qwen_sizes(registry)
    choices = []
    for i, (model_id, params, mb) in enumerate(sizes[:2]):
        # GGUF Q8 files are about half the safetensors size; llama.cpp needs the GGUF repo
        download = mb if backend == "transformers" else mb // 2
        spec = model_id if backend == "transformers" else f"{model_id}-GGUF:Q8_0"
        recommended = i == (1 if kind == "cuda" and len(sizes) > 1 else 0)
        choices.append(
            ModelChoice(
                f"Qwen3 Embedding {params} — {where[kind]}",
                spec,
                backend,
                download,
                "Multilingual, best quality; downloaded once, then fully offline.",
                recommended,
            )
        )
    choices.append(
        ModelChoice(
            "Bundled starter model (all-MiniLM-L6-v2)",
            starter_spec(),
            "numpy",
            0,
            "English only, small and fast; nothing to download.",
        )
    )
    return sorted(choices, key=lambda c: not c.recommended)


def describe_download(choice: ModelChoice) -> str:
    """A sentence saying what will be downloaded and how big it is."""
    if choice.download_mb <= 0:
        return "Nothing will be downloaded: the model ships with Quarry."
    size = (
        f"{choice.download_mb / 1000:.1f} GB"
        if choice.download_mb >= 1000
        else f"{choice.download_mb} MB"
    )
    return (
        f"Quarry will download {choice.spec} ({choice.backend}), about {size}, once, from "
        "the Hugging Face hub, showing progress in the status bar. Nothing else goes online; "
        "if the download fails, Quarry uses the bundled starter model and says so."
    )
