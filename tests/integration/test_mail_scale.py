"""A generated mbox indexes in constant memory and its messages are found (slow).

Runs ``benchmarks/mbox_scale.py`` in a fresh process (its memory is then its own) on fewer
messages than the 10,000 of the reported figure, to stay within the suite's budget; the
archive still grows tenfold after the first measurement point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mbox_indexes_in_constant_memory_and_messages_are_found(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    out = tmp_path / "mbox.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "mbox_scale.py"), "--messages", "1500",
         "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["problems"] == [] and figures["chunks"] > 1500
    assert figures["found"] == {"subject": True, "sender": True, "body": True}
    # Constant memory: the peak once a tenth of the archive is in holds to the end.
    assert figures["writer_peak_at_tenth_mb"] > 0 and figures["worker_peak_at_tenth_mb"] > 0
    assert figures["writer_peak_mb"] - figures["writer_peak_at_tenth_mb"] < 20
    assert figures["worker_peak_mb"] - figures["worker_peak_at_tenth_mb"] < 20
