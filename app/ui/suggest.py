"""Which model to suggest on this machine, and how big its download is (Qt-free).

The facts (sizes, per-platform backend) come from ``engine.registry``; only GPU detection
is done here, by driver presence, because importing torch on the main thread takes seconds
and a machine with an NVIDIA GPU deserves the torch suggestion even before torch is installed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from engine import registry
from engine.resolve import starter_model_path

# No multilingual embedding model small enough to bundle ships in a maintained pip package
# in a format the existing backends load (README, "Models"), so the starter stays English.
STARTER_LANGUAGES = (
    "Search by meaning works in English only with this model. Documents and queries in other "
    "languages (German, French, Chinese, Japanese, ...) are found by their words, not their "
    "meaning, until you download a Qwen3 model."
)


@dataclass(frozen=True)
class ModelChoice:
    """One option in the welcome screen."""

    label: str
    spec: str  # value for Settings.embed_model ("" = automatic)
    backend: str  # value for Settings.embed_backend
    download_mb: int  # 0 = already on disk
    note: str
    recommended: bool = False


def starter_spec() -> str:
    """The bundled starter model's folder, or "" (automatic) when it is not installed."""
    path = starter_model_path()
    return str(path) if path else ""


def has_nvidia_gpu() -> bool:
    """A cheap check (driver present) that never imports torch."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def machine_kind() -> str:
    """``cuda``, ``apple`` or ``cpu``."""
    return registry.platform_key(cuda=has_nvidia_gpu())


def model_choices(kind: str | None = None) -> list[ModelChoice]:
    """The welcome screen's options, the suggested one first."""
    kind = kind or machine_kind()
    backend = registry.RECOMMENDED_BACKEND[kind]
    where = {
        "cuda": "NVIDIA GPU (torch, CUDA)",
        "apple": "Apple silicon (GGUF)",
        "cpu": "CPU (GGUF)",
    }
    sizes = [(e.model_id, e.params, e.download_mb) for e in registry.embedding_models()]
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
            "English only, small and fast; nothing to download. Other languages need a Qwen3 "
            "model for search by meaning.",
        )
    )
    return sorted(choices, key=lambda c: not c.recommended)


def describe_download(choice: ModelChoice) -> str:
    """A sentence saying what will be downloaded and how big it is."""
    if choice.download_mb <= 0:
        return f"Nothing will be downloaded: the model ships with Quarry. {STARTER_LANGUAGES}"
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
