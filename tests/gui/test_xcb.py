"""The real window on Qt's real X11 (``xcb``) platform under Xvfb, in fresh processes.

Marked ``xcb``: runs wherever Xvfb and Qt's xcb libraries are installed (CI installs both
in .ci/run) and is skipped, saying why, elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import paths, qtlibs

pytestmark = pytest.mark.xcb
DRIVER = [sys.executable, "-m", "tests.gui.quit_driver"]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb server; its display name (e.g. ":5")."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    missing = qtlibs.missing_libraries()
    if missing:
        pytest.skip(qtlibs.install_hint(missing))
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _home(tmp_path: Path, model: Path, files: int) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for i in range(files):
        (docs / f"note{i:03}.txt").write_text(
            f"Note {i}: the lighthouse keeper logs ship number {i} passing at night. " * 40
        )
    settings = {"folders": [str(docs)], "embed_model": str(model), "rerank_enabled": False,
                "first_run_done": True, "keep_running_in_tray": False}  # fmt: skip
    paths.settings_path().write_text(json.dumps(settings))
    return docs


def _run_window(display: str, quit_after_ms: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run(
        [*DRIVER, str(quit_after_ms)], env=env, capture_output=True, text=True, timeout=300
    )


def test_window_opens_on_real_xcb(display: str, tmp_path: Path, starter_model_dir: Path) -> None:
    _home(tmp_path, starter_model_dir, files=3)
    done = _run_window(display, 500)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "platform=xcb shown=True" in done.stdout, done.stdout + done.stderr[-3000:]


@pytest.mark.slow
def test_quit_twenty_times_mid_indexing_and_search(
    display: str, tmp_path: Path, starter_model_dir: Path
) -> None:
    _home(tmp_path, starter_model_dir, files=60)
    crashes = []
    for round_ in range(20):
        paths.database_path().unlink(missing_ok=True)  # every start indexes anew
        done = _run_window(display, (round_ * 37) % 400)
        torn = "Signal source has been deleted" in done.stderr or "Fatal Python" in done.stderr
        if done.returncode != 0 or torn or "platform=xcb" not in done.stdout:
            crashes.append((round_, done.returncode, done.stderr[-2000:]))
    assert not crashes, crashes
