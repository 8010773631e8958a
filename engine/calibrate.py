"""Measure this computer: how fast each installed backend and precision embeds here.

The fastest path depends on the machine far more than on the model (one 2-core AVX-512 BF16
CPU: torch bf16 ~500 tokens/s, llama.cpp Q8_0 ~60-100, torch fp32 ~130; a laptop without
native bf16 ranks them the other way), so Quarry measures instead of guessing: a few seconds
per candidate on the text below, remembered per machine (``engine.machine.machine_key``) and
model, and read back by ``auto`` choices and the welcome dialog.

A candidate is a model on disk (an HF folder or a ``.gguf``) on one backend/device/precision,
or, before anything is downloaded, a *proxy*: a random-weight model of the published shape
built in memory (compute cost does not depend on weight values), run on torch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.machine import detect, installed, machine_key, state_dir

CALIBRATION_FILE = "calibration.json"
PROXY_TOKENS = 384  # a typical chunk (Settings.chunk_tokens)

# Text the measurement embeds: written for Quarry, several scripts so tokenisation is realistic.
PASSAGES = (
    "The river rose overnight and by morning the lower fields were under a sheet of brown "
    "water. Farmers moved the cattle to the hill pasture, and the school bus took the long "
    "road round by the old mill, where the bridge still stood above the flood.",
    "To reset the router, hold the small button at the back for ten seconds until the lights "
    "blink amber, then wait two minutes. The network name and password return to the values "
    "printed on the label underneath; write down any custom settings before you begin.",
    "Die Sitzung wurde um zehn Uhr eröffnet. Nach kurzer Aussprache beschloss der Ausschuss, "
    "den Haushaltsentwurf bis zur nächsten Woche zu vertagen, weil die Zahlen der Kämmerei "
    "noch nicht vollständig vorlagen und zwei Mitglieder fehlten.",
    "Pour conserver le pain plus longtemps, enveloppez-le dans un torchon propre et gardez-le "
    "à température ambiante. Le réfrigérateur le fait rassir plus vite ; le congélateur, en "
    "revanche, le garde frais pendant plusieurs semaines.",
    "会议记录：项目组决定下周一开始测试新版本。所有问题请在周五之前提交到系统中，"
    "负责人会在周末整理优先级，并在例会上说明发布计划和剩余的风险。",
    "明日は午前中に雨が降り、午後からは晴れる見込みです。週末は気温が上がり、"
    "山沿いでは雪解けが進むため、登山の際は足元に十分注意してください。",
    "def retry(fn, attempts=3, delay=0.5):\n    for i in range(attempts):\n        try:\n"
    "            return fn()\n        except OSError:\n            time.sleep(delay * 2 ** i)\n"
    "    raise RuntimeError('gave up after retries')",
    "Invoice 2024-118: plumbing repair at 14 Elm Street, replacement of the kitchen tap and "
    "two metres of copper pipe, labour three hours. Payment due within thirty days by bank "
    "transfer; please quote the invoice number as the reference.",
)


@dataclass(frozen=True)
class Candidate:
    """One way to run an embedding model here."""

    backend: str  # "transformers" | "llamacpp" | "numpy"
    device: str  # "cpu" | "cuda" | "mps" | "auto" (llama.cpp: Metal/CUDA when built with it)
    dtype: str  # "float32" | "bfloat16" | "float16" | "auto" (a GGUF's own type)
    model: str  # a folder or .gguf on disk; "" for a proxy
    model_id: str  # what the measurement is remembered under

    @property
    def proxy(self) -> bool:
        """True for a random-weight stand-in of ``model_id``'s shape."""
        return not self.model

    @property
    def label(self) -> str:
        """How the UI names it, e.g. ``torch bfloat16 on CPU``."""
        lib = {"transformers": "torch", "llamacpp": "llama.cpp GGUF", "numpy": "numpy"}
        where = "CPU" if self.device == "cpu" else self.device.upper()
        precision = "" if self.dtype == "auto" else f" {self.dtype}"
        return f"{lib.get(self.backend, self.backend)}{precision} on {where}"


@dataclass(frozen=True)
class Measurement:
    """Tokens per second of one candidate (0 with ``error`` when it could not run)."""

    candidate: Candidate
    tokens_per_s: float
    error: str = ""

    def describe(self, tokens: int = 0) -> str:
        """``torch bfloat16 on CPU: ~510 tokens/s (about 11 h for 20M tokens)``."""
        if self.error:
            return f"{self.candidate.label}: could not run ({self.error})"
        text = f"{self.candidate.label}: ~{self.tokens_per_s:,.0f} tokens/s"
        if tokens and self.tokens_per_s > 0:
            text += f" (about {duration(tokens / self.tokens_per_s)} for {amount(tokens)} tokens)"
        return text


def duration(seconds: float) -> str:
    """A rough, readable duration: ``40 s``, ``12 min``, ``3.5 h``, ``4 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def amount(tokens: int) -> str:
    """``20M``, ``350k``, ``900``."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.0f}M"
    return f"{tokens / 1000:.0f}k" if tokens >= 1000 else str(tokens)


# ---- what can run here ------------------------------------------------------------------------


def torch_devices() -> list[str]:
    """Devices torch can use here (imports torch: call off the UI thread)."""
    if not (installed("torch") and installed("transformers")):
        return []
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.insert(0, "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.insert(0, "mps")
    return devices


def torch_dtypes(device: str) -> list[str]:
    """Precisions worth measuring on ``device``: half on GPUs, bf16 on CPUs that have it."""
    if device == "cuda":
        return ["bfloat16", "float16"]
    if device == "mps":
        return ["float16"]
    return ["float32", "bfloat16"] if detect().native_bf16 else ["float32"]


def candidates_for(model_id: str, specs: Sequence[str]) -> list[Candidate]:
    """Every installed way to run the given local copies (HF folders, GGUF files) of a model."""
    out: list[Candidate] = []
    for spec in specs:
        if spec.lower().endswith(".gguf"):
            if installed("llama_cpp"):
                out.append(Candidate("llamacpp", "auto", "auto", spec, model_id))
            continue
        if _is_bert(Path(spec)):
            out.append(Candidate("numpy", "cpu", "float32", spec, model_id))
        for device in torch_devices():
            out += [
                Candidate("transformers", device, d, spec, model_id) for d in torch_dtypes(device)
            ]
    return out


def proxy_candidates(model_id: str) -> list[Candidate]:
    """Torch paths for a model that is not downloaded yet, measured on a same-shape proxy."""
    out = []
    for device in torch_devices():
        out += [Candidate("transformers", device, d, "", model_id) for d in torch_dtypes(device)]
    return out


def _is_bert(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("model_type") == "bert")


# ---- measuring -----------------------------------------------------------------------------------


def measure(candidate: Candidate, seconds: float = 3.0) -> Measurement:
    """Tokens/s of ``candidate``: load, warm up, then embed batches for about ``seconds``.

    A candidate that cannot run here (missing library, out of memory, a dtype the hardware
    refuses) is a Measurement with an error, so one bad path never ends the calibration.
    """
    try:
        rate = (
            _proxy_rate(candidate, seconds) if candidate.proxy else _real_rate(candidate, seconds)
        )
    except (EngineError, RuntimeError, MemoryError, OSError, ValueError) as exc:
        return Measurement(candidate, 0.0, f"{type(exc).__name__}: {exc}"[:200])
    return Measurement(candidate, rate)


def _real_rate(candidate: Candidate, seconds: float) -> float:
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    config = EmbedderConfig(
        model=candidate.model,
        backend=candidate.backend,
        device=candidate.device,
        dtype=candidate.dtype,
    )
    embedder = load_embedder(config)
    try:
        tokenizer = embedder.tokenizer()
        batch = list(PASSAGES) * 2
        tokens = sum(tokenizer.count(t) + 1 for t in batch)
        embedder.embed_documents(batch[:2])
        return _rate(lambda: embedder.embed_documents(batch), tokens, seconds)
    finally:
        embedder.close()


def _rate(step: Callable[[], object], tokens: int, seconds: float) -> float:
    """Tokens per second of repeating ``step`` for at least ``seconds`` (and at least once)."""
    done, started = 0, time.perf_counter()
    while True:
        step()
        done += tokens
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def _proxy_rate(candidate: Candidate, seconds: float) -> float:
    """A random-weight model of the registry shape, forward passes over realistic lengths."""
    import torch
    from transformers import Qwen3Config, Qwen3Model

    shape = _proxy_config(candidate.model_id)
    dtype = getattr(torch, candidate.dtype)
    with torch.device(candidate.device):
        model = Qwen3Model(Qwen3Config(**shape)).to(dtype).eval()
    from engine.backends.transformers import default_batch_tokens

    batch = max(1, default_batch_tokens(candidate.device, shape["hidden_size"]) // PROXY_TOKENS)
    ids = torch.randint(0, shape["vocab_size"], (batch, PROXY_TOKENS), device=candidate.device)

    def step() -> None:
        with torch.inference_mode():
            model(input_ids=ids).last_hidden_state[:, -1].float().cpu()

    step()
    return _rate(step, batch * PROXY_TOKENS, seconds)


# Published Qwen3-Embedding shapes (config.json of each release).
_SHAPES: dict[str, dict[str, Any]] = {
    "0.6B": {"hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16,
             "intermediate_size": 3072},
    "4B": {"hidden_size": 2560, "num_hidden_layers": 36, "num_attention_heads": 32,
           "intermediate_size": 9728},
    "8B": {"hidden_size": 4096, "num_hidden_layers": 36, "num_attention_heads": 32,
           "intermediate_size": 12288},
}  # fmt: skip


def _proxy_config(model_id: str) -> dict[str, Any]:
    from engine.registry import lookup

    entry = lookup(model_id)
    if entry is None or entry.family != "qwen3" or entry.params not in _SHAPES:
        raise EngineError(f"No known shape for {model_id}; measure a downloaded copy instead.")
    return {
        "vocab_size": 151669,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "tie_word_embeddings": True,
        **_SHAPES[entry.params],
    }


def calibrate(
    candidates: Sequence[Candidate],
    *,
    seconds: float = 3.0,
    on_result: Callable[[Measurement], None] | None = None,
    measure_one: Callable[[Candidate, float], Measurement] = measure,
) -> list[Measurement]:
    """Measure each candidate in turn, remember the results, return them fastest first."""
    results = []
    for candidate in candidates:
        result = measure_one(candidate, seconds)
        results.append(result)
        if on_result is not None:
            on_result(result)
    remember(results)
    return sorted(results, key=lambda m: -m.tokens_per_s)


# ---- remembering ---------------------------------------------------------------------------------


def _memo_path() -> Path:
    return state_dir() / CALIBRATION_FILE


def _load() -> dict[str, Any]:
    try:
        data = json.loads(_memo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember(results: Sequence[Measurement]) -> None:
    """Store ``results`` under this machine, replacing older figures for the same candidates."""
    data = _load()
    mine: dict[str, dict[str, Any]] = data.setdefault(machine_key(), {})
    for result in results:
        key = json.dumps(asdict(result.candidate), sort_keys=True)
        mine[key] = {"tokens_per_s": result.tokens_per_s, "error": result.error}
    path = _memo_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def remembered(model_id: str | None = None) -> list[Measurement]:
    """What was measured on this machine (for ``model_id``, or all), fastest first."""
    out = []
    for key, value in _load().get(machine_key(), {}).items():
        try:
            candidate = Candidate(**json.loads(key))
            result = Measurement(candidate, float(value["tokens_per_s"]), str(value["error"]))
        except (TypeError, ValueError, KeyError):
            continue  # a memo from another version: ignore it, it will be measured again
        if model_id is None or candidate.model_id.lower() == model_id.lower():
            out.append(result)
    return sorted(out, key=lambda m: -m.tokens_per_s)


def fastest(results: Sequence[Measurement]) -> Measurement | None:
    """The fastest candidate that ran, None when none did."""
    ran = [r for r in results if not r.error and r.tokens_per_s > 0]
    return max(ran, key=lambda r: r.tokens_per_s) if ran else None


def preferred_cpu_dtype(model_id: str) -> str:
    """torch's CPU precision for ``model_id``: measured fastest, else bf16 where it is native.

    Qwen3 weights are published in bf16, so computing in bf16 is the model's own precision;
    measured on one AVX-512 BF16 CPU it ran 3.9x faster than fp32 (benchmarks/model_speed.py).
    """
    measured = [
        m
        for m in remembered(model_id)
        if m.candidate.backend == "transformers" and m.candidate.device == "cpu"
    ]
    best = fastest(measured)
    if best is not None:
        return best.candidate.dtype
    return "bfloat16" if detect().native_bf16 else "float32"
