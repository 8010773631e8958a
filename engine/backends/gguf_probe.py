"""Survive a native crash: the first decode of a GGUF on a machine runs in a child process.

On one AVX-512 VM llama.cpp's extra CPU buffer types (repacked weight layouts) segfaulted
inside ``llama_decode`` for a Q8_0 model: ``quarry embed`` died with no message, and a
segfault cannot be caught in-process. So the first time a model file is used on a machine,
a spawned child loads it with the settings about to be used and decodes a short batch. If the
child dies, the next safer settings are tried; the first that survives is remembered in
Quarry's cache folder (keyed by machine, llama.cpp version and model file) and a notice says
what was given up. Later loads read the memo and start at once.

``QUARRY_GGUF_PROBE=0`` skips probing (test suites that load many tiny models).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from engine.backends.llama_native import Runtime
from engine.errors import ModelLoadError
from engine.machine import machine_key, state_dir

PROBE_TIMEOUT_S = 300.0
MEMO_FILE = "gguf-runtime.json"
_LOCK = threading.Lock()

ProbeTarget = Callable[[str, dict[str, object]], None]


def decode_probe(path: str, runtime: dict[str, object]) -> None:
    """Child process: load ``path`` with ``runtime`` and decode two short sequences."""
    from engine.backends.llama_native import NativeModel, import_llama_cpp

    lib = import_llama_cpp()
    model = NativeModel(Path(path), Runtime(**runtime))  # type: ignore[arg-type]
    ctx = model.context(256, embeddings=False, pooling=lib.LLAMA_POOLING_TYPE_NONE, n_seq_max=2)
    tokens = model.tokenize("The quick brown fox jumps over the lazy dog. " * 4, special=False)
    ctx.decode([tokens[:48], tokens[:32]], outputs="last")
    ctx.close()
    model.close()


def candidates(runtime: Runtime) -> list[Runtime]:
    """The settings to try, fastest first; the last one uses llama.cpp's plainest kernels."""
    out = [runtime]
    if runtime.extra_bufts:
        out.append(replace(runtime, extra_bufts=False))
    return out


# Settings that only size the work (not which kernels run) neither key nor override the memo.
_SIZING = ("threads", "pack_tokens")


def _memo_key(path: Path, runtime: Runtime) -> str:
    info = path.stat()
    wanted = {k: v for k, v in asdict(runtime).items() if k not in _SIZING}
    return f"{machine_key()}|{path.resolve()}|{info.st_size}|{info.st_mtime_ns}|{wanted}"


def _read_memo() -> dict[str, dict[str, object]]:
    try:
        data = json.loads((state_dir() / MEMO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_memo(memo: dict[str, dict[str, object]]) -> None:
    path = state_dir() / MEMO_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(memo, indent=1), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def run_probe(target: ProbeTarget, path: Path, runtime: Runtime) -> int | None:
    """Exit code of ``target`` in a spawned child (negative: killed by that signal)."""
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=target, args=(str(path), asdict(runtime)), daemon=True)
    child.start()
    child.join(PROBE_TIMEOUT_S)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode


def _describe(code: int | None) -> str:
    if code is None:
        return "hung"
    return f"crashed (signal {-code})" if code < 0 else f"failed (exit {code})"


def safe_runtime(
    path: Path, runtime: Runtime, *, target: ProbeTarget = decode_probe
) -> tuple[Runtime, str | None]:
    """The settings to load ``path`` with here, and a notice when faster ones crashed."""
    if os.environ.get("QUARRY_GGUF_PROBE", "1") == "0" or not path.exists():
        return runtime, None
    key = _memo_key(path, runtime)
    with _LOCK:
        memo = _read_memo()
        known = memo.get(key)
        if known is not None:
            chosen = Runtime(**{**asdict(runtime), **known["runtime"]})  # type: ignore[arg-type, dict-item]
            return chosen, known.get("notice")  # type: ignore[return-value]
        failures: list[str] = []
        for candidate in candidates(runtime):
            code = run_probe(target, path, candidate)
            if code == 0:
                notice = None
                if failures:
                    notice = (
                        f"llama.cpp {'; '.join(failures)} on this computer with {path.name}; "
                        "using its plain CPU kernels instead (slower, but safe)."
                    )
                safe = {k: v for k, v in asdict(candidate).items() if k not in _SIZING}
                memo[key] = {"runtime": safe, "notice": notice}
                _write_memo(memo)
                return candidate, notice
            failures.append(f"{_describe(code)} with extra_bufts={candidate.extra_bufts}")
    raise ModelLoadError(
        f"llama.cpp cannot run {path.name} on this computer: it {'; '.join(failures)}. "
        "Try another quantisation of the model or the transformers backend."
    )
