"""Child-process targets for the GGUF crash probe tests: real segfaults, in spawned children.

They live in an importable module because a spawned child re-imports its target by name.
"""

from __future__ import annotations

import ctypes

from engine.backends.gguf_probe import decode_probe


def segfault() -> None:
    """Dereference NULL: the same death a crashing llama.cpp kernel gives the process."""
    ctypes.string_at(0)


def crash_with_extra_bufts(path: str, runtime: dict[str, object]) -> None:
    """Crash like the AVX-512 VM did, but only with llama.cpp's repacked weight layouts."""
    if runtime["extra_bufts"]:
        segfault()
    decode_probe(path, runtime)


def always_crash(path: str, runtime: dict[str, object]) -> None:
    """A model that takes the process down whatever the settings."""
    segfault()
