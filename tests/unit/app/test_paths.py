"""Where Quarry keeps its files: QUARRY_HOME and everything in it is private to the user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_new_quarry_home_is_created_user_only_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    code = "import os; os.umask(0); from app import paths; print(paths.database_path())"
    env = {**os.environ, "QUARRY_HOME": str(home), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
    for folder in (tmp_path / "new", home, home / "data"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_an_existing_quarry_home_keeps_its_mode(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    env = {**os.environ, "QUARRY_HOME": str(home), "PYTHONPATH": str(ROOT)}
    code = "from app import paths; paths.database_path()"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
    assert home.stat().st_mode & 0o777 == 0o755
    assert (home / "data").stat().st_mode & 0o777 == 0o700
