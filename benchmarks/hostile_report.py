"""Before/after table of the hostile-input suite: each kind against two checkouts.

    python benchmarks/hostile_report.py /path/to/main-checkout [-k EXPR]

Runs every test of ``tests/hostile`` twice, interleaved test by test on the same machine:
once with the quarry runs pointed at the other checkout ("before",
``QUARRY_HOSTILE_CODE``), once at this one ("after"). Each quarry process runs under the
suite's 3 GB address-space limit, so a "before" that blows up shows its peak at the moment
the limit stopped it, and a hang shows the suite's bound. The table gives, per test: pass
or fail, the slowest quarry run's wall time and the largest peak RSS of its runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from report import ROOT, machine, table


def _collect(expression: str | None) -> list[str]:
    """Test ids of the hostile suite (optionally filtered by ``-k``)."""
    command = [sys.executable, "-m", "pytest", "tests/hostile", "--collect-only", "-q"]
    command += ["-k", expression] if expression else []
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "::" in line]


def _run(test: str, code: Path) -> tuple[bool, list[dict[str, object]]]:
    """Run one test with the quarry runs pointed at ``code``: (passed, measurements)."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as log:
        path = Path(log.name)
    env = {**os.environ, "QUARRY_HOSTILE_CODE": str(code), "QUARRY_HOSTILE_LOG": str(path)}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"]
    passed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode == 0
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    path.unlink()
    return passed, runs


def _cell(passed: bool, runs: list[dict[str, object]]) -> list[object]:
    if not runs:
        return ["pass" if passed else "FAIL", "-", "-"]
    slowest = max(runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    peak = max(int(r["peak_mb"]) for r in runs)  # type: ignore[call-overload]
    late = " (killed at bound)" if slowest["timed_out"] else ""
    return ["pass" if passed else "FAIL", f"{slowest['seconds']} s{late}", f"{peak} MB"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="checkout to compare with (e.g. main)")
    parser.add_argument("-k", dest="expression", help="only tests matching this expression")
    args = parser.parse_args()
    rows = []
    for test in _collect(args.expression):
        before = _cell(*_run(test, args.before.resolve()))
        after = _cell(*_run(test, ROOT))
        rows.append([test.split("::", 1)[1], *before, *after])
        print(rows[-1], file=sys.stderr, flush=True)
    print(machine())
    headers = ["kind", "before", "time", "peak RSS", "after", "time", "peak RSS"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
