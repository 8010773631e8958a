"""The BLAS thread limit: honoured inside the block, restored after it."""

from __future__ import annotations

import pytest

from engine.threads import apply_blas_limit, blas_threads


def test_override_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARRY_BLAS_THREADS", "3")
    assert blas_threads() == 3
    monkeypatch.setenv("QUARRY_BLAS_THREADS", "zero")
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert blas_threads() == 4
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert blas_threads() == 1


def test_process_wide_limit() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy as np

    np.ones((4, 4)) @ np.ones((4, 4))
    with threadpoolctl.threadpool_limits(limits=None):  # restores whatever we change
        apply_blas_limit(1)
        infos = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert infos and all(p["num_threads"] == 1 for p in infos)
