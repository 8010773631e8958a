"""A test skipped for a missing library fails the run (tests/conftest.py), unless allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_pytest(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Pytest on ``folder`` with the project's conftest as a plugin, in a fresh process."""
    (folder / "test_needs.py").write_text(
        "import pytest\n\n"
        "def test_needs_a_library():\n"
        "    pytest.importorskip('quarry_no_such_library')\n\n"
        "def test_plain():\n"
        "    assert True\n"
    )
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest"]
    environ = {k: v for k, v in os.environ.items() if k != "QUARRY_ALLOW_MISSING"}
    environ.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run(
        [*argv, "--rootdir", str(folder), str(folder)],
        capture_output=True, text=True, cwd=folder, env=environ, check=False,
    )  # fmt: skip


def test_skip_for_a_missing_library_fails_the_run(tmp_path: Path) -> None:
    done = run_pytest(tmp_path)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "quarry_no_such_library" in done.stdout and "1 skipped" in done.stdout


def test_a_partial_install_can_allow_it(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, QUARRY_ALLOW_MISSING="1")
    assert done.returncode == 0, done.stdout + done.stderr
