"""What this computer can do for a model: cores, instruction sets, GPUs, and a key to remember it.

Which backend and precision is fastest depends on the machine far more than on the model
(measured on one 2-core AVX-512 BF16 CPU: torch bf16 ~500 tokens/s, llama.cpp Q8_0 ~60-100,
torch fp32 ~130), so the engine asks here before choosing, and remembers measurements under
``machine_key()`` so a new CPU (or a new llama.cpp build) is measured afresh.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

# CPU flags that change which kernels are fast (Linux /proc/cpuinfo spelling).
INTERESTING_FLAGS = (
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
    "avx_vnni",
)


@dataclass(frozen=True)
class MachineInfo:
    """Facts about this computer that decide the fastest path."""

    system: str  # "Linux" | "Darwin" | "Windows"
    arch: str  # "x86_64" | "arm64" | ...
    cpu_model: str
    physical_cores: int
    logical_cores: int
    features: frozenset[str]
    has_metal: bool  # Apple silicon: llama.cpp Metal and torch MPS

    @property
    def native_bf16(self) -> bool:
        """True where bf16 matrix products run in hardware (AVX-512 BF16, AMX, Apple M2+)."""
        return bool(self.features & {"avx512_bf16", "amx_bf16", "arm_bf16"})

    def describe(self) -> str:
        """One line for the UI and benchmark headers."""
        flags = ", ".join(sorted(self.features)) or "no vector extensions detected"
        return f"{self.cpu_model}, {self.physical_cores} cores ({flags})"


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _sysctl(name: str) -> str:
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _linux_model_and_flags(text: str) -> tuple[str, frozenset[str]]:
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
    return model, flags


def physical_cores() -> int:
    """Cores that can each run a compute thread at full speed (SMT siblings counted once).

    llama.cpp and BLAS run best with one thread per physical core; llama-cpp-python's own
    default (half the logical CPUs) halves the speed on machines without SMT.
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    logical = usable or os.cpu_count() or 1
    if sys.platform == "darwin":
        found = _sysctl("hw.perflevel0.physicalcpu") or _sysctl("hw.physicalcpu")
        return max(1, int(found)) if found.isdigit() else logical
    siblings = _smt_siblings()
    return max(1, logical // siblings)


def _smt_siblings() -> int:
    """Hardware threads per core (1 without SMT), from Linux sysfs; 1 when unknown."""
    path = Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return 1
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi) - int(lo) + 1 if hi else 1
    return max(count, 1)


@functools.cache
def detect() -> MachineInfo:
    """This machine's facts (cached: they do not change while the app runs)."""
    system, arch = platform.system(), platform.machine().lower()
    model, flags = _linux_model_and_flags(_cpuinfo()) if system == "Linux" else ("", frozenset())
    metal = system == "Darwin" and arch == "arm64"
    if system == "Darwin":
        model = _sysctl("machdep.cpu.brand_string") or model
        if metal and _sysctl("hw.optional.arm.FEAT_BF16") == "1":
            flags = flags | {"arm_bf16"}
    features = frozenset(f for f in flags if f in INTERESTING_FLAGS) | (flags & {"arm_bf16"})
    return MachineInfo(
        system=system,
        arch=arch,
        cpu_model=model or platform.processor() or arch or "unknown CPU",
        physical_cores=physical_cores(),
        logical_cores=os.cpu_count() or 1,
        features=features,
        has_metal=metal,
    )


def installed(module: str) -> bool:
    """True when ``module`` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def library_versions() -> str:
    """Versions of the inference libraries present, part of what a measurement depends on."""
    from importlib import metadata

    parts = []
    for dist in ("torch", "transformers", "llama-cpp-python", "numpy"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return ",".join(parts)


def machine_key() -> str:
    """A short stable id for (this CPU, its flags, core count, OS, library versions)."""
    info = detect()
    text = "|".join(
        [info.system, info.arch, info.cpu_model, str(info.physical_cores),
         ",".join(sorted(info.features)), library_versions()]
    )  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def state_dir() -> Path:
    """Quarry's cache folder (``QUARRY_HOME``/cache when set), made private: 0700.

    The engine cannot import ``app.paths`` (layering), so it applies the same rule itself.
    """
    home = os.environ.get("QUARRY_HOME")
    path = Path(home) / "cache" if home else Path(platformdirs.user_cache_dir("Quarry"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
