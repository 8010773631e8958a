"""Calibration: real measurements on the tiny models, remembered, and followed by ``auto``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import calibrate
from engine.calibrate import Candidate, Measurement, fastest, preferred_cpu_dtype, remembered
from engine.machine import MachineInfo

pytestmark = pytest.mark.slow


def _fake(speeds: dict[str, float]):  # type: ignore[no-untyped-def]
    """A measure function that reports ``speeds[backend]`` instead of timing anything."""

    def measure(candidate: Candidate, seconds: float) -> Measurement:
        return Measurement(candidate, speeds[candidate.backend])

    return measure


@pytest.mark.parametrize(("numpy_speed", "torch_speed", "expected"),
                         [(900.0, 3000.0, "transformers"), (3000.0, 900.0, "numpy")])  # fmt: skip
def test_auto_follows_the_faster_measurement(
    starter_model_dir: Path, numpy_speed: float, torch_speed: float, expected: str
) -> None:
    """Two fake measurements (slow, fast): ``auto`` loads the starter on the faster backend."""
    pytest.importorskip("transformers")
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    spec = str(starter_model_dir)
    todo = [Candidate("numpy", "cpu", "float32", spec, "starter"),
            Candidate("transformers", "cpu", "float32", spec, "starter")]  # fmt: skip
    results = calibrate.calibrate(
        todo, measure_one=_fake({"numpy": numpy_speed, "transformers": torch_speed})
    )
    assert results[0].candidate.backend == expected  # fastest first
    embedder = load_embedder(EmbedderConfig(model=spec))
    try:
        assert embedder.info.backend == expected
    finally:
        embedder.close()
    # An explicit choice always wins over the measurement.
    explicit = load_embedder(EmbedderConfig(model=spec, backend="numpy"))
    assert explicit.info.backend == "numpy"
    explicit.close()


def test_cpu_precision_measured_then_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    bf16 = MachineInfo("Linux", "x86_64", "cpu", 4, 4, frozenset({"avx512_bf16"}), False)
    plain = MachineInfo("Linux", "x86_64", "cpu", 4, 4, frozenset({"avx2"}), False)
    monkeypatch.setattr(calibrate, "detect", lambda: bf16)
    assert preferred_cpu_dtype("m") == "bfloat16"
    monkeypatch.setattr(calibrate, "detect", lambda: plain)
    assert preferred_cpu_dtype("m") == "float32"
    monkeypatch.setattr(calibrate, "detect", lambda: bf16)
    calibrate.remember([
        Measurement(Candidate("transformers", "cpu", "float32", "/m", "m"), 300.0),
        Measurement(Candidate("transformers", "cpu", "bfloat16", "/m", "m"), 120.0),
    ])  # fmt: skip
    assert preferred_cpu_dtype("m") == "float32"  # measured beats the prior
    assert preferred_cpu_dtype("other") == "bfloat16"


def test_a_candidate_that_cannot_run_is_reported_not_fatal(tmp_path: Path) -> None:
    bad = Candidate("numpy", "cpu", "float32", str(tmp_path / "missing"), "nothing")
    result = calibrate.measure(bad, seconds=0.1)
    assert result.tokens_per_s == 0 and "ModelNotFound" in result.error
    assert fastest([result]) is None


def test_stand_in_has_the_published_shape_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 0.6B stand-in is built from the published shape (shrunk here to stay fast)."""
    pytest.importorskip("transformers")
    full = calibrate._proxy_config("Qwen/Qwen3-Embedding-0.6B")
    assert (full["hidden_size"], full["num_hidden_layers"], full["vocab_size"]) == (
        1024,
        28,
        151669,
    )
    small = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 128, "num_key_value_heads": 2, "head_dim": 16}  # fmt: skip
    monkeypatch.setitem(calibrate._SHAPES, "0.6B", small)
    monkeypatch.setattr(calibrate, "PROXY_TOKENS", 32)
    result = calibrate.measure(
        Candidate("transformers", "cpu", "float32", "", "Qwen/Qwen3-Embedding-0.6B"), 0.2
    )
    assert result.error == "" and result.tokens_per_s > 0


def test_real_calibration_on_tiny_models_through_the_cli(
    tiny_embedding_dir: Path, tiny_embedding_gguf: Path, quarry_home: Path
) -> None:
    """``quarry calibrate`` times every installed path of the tiny models and remembers them."""
    pytest.importorskip("llama_cpp")
    cmd = [sys.executable, "-m", "app", "calibrate", "--model", str(tiny_embedding_dir),
           "--model", str(tiny_embedding_gguf), "--seconds", "0.3", "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    backends = {(r["backend"], r["dtype"]) for r in rows}
    assert ("transformers", "float32") in backends and ("llamacpp", "auto") in backends
    assert all(r["tokens_per_s"] > 0 and r["error"] == "" for r in rows), rows
    ids = {r["model_id"] for r in rows}  # the tiny copies carry their own names: one each
    assert sum(r["fastest"] for r in rows) == len(ids)
    memo = remembered()
    assert len(memo) == len(rows) and all(m.tokens_per_s > 0 for m in memo)
    human = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=300)
    assert human.returncode == 0 and "Fastest for" in human.stdout and "tokens/s" in human.stdout
