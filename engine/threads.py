"""How many BLAS threads the CPU engines use: half the cores, so indexing stays polite.

OpenBLAS spins its threads while waiting for work. When a machine is busy (the user's other
programs, Quarry's own extraction workers), a BLAS pool the size of the machine spends its
time spinning instead of computing: measured here on 2 cores under load, the numpy starter
model ran up to 5x slower with the default pool than with one thread. Background indexing
should also leave the user half the machine. ``QUARRY_BLAS_THREADS`` overrides the choice.
"""

from __future__ import annotations

import os


def blas_threads() -> int:
    """Threads for BLAS in the CPU engines: ``QUARRY_BLAS_THREADS`` or half the cores."""
    override = os.environ.get("QUARRY_BLAS_THREADS", "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return max(1, (os.cpu_count() or 2) // 2)


def apply_blas_limit(threads: int | None = None) -> None:
    """Cap BLAS threads process-wide (the CPU engines call this once when they load).

    Process-wide on purpose: the limit is global state in OpenBLAS, so scoping it per call
    from several threads (search, indexing) would only race.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads or blas_threads(), user_api="blas")
