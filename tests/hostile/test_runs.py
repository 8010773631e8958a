"""Whole runs: Ctrl-C ends every process at once, and two runs on one index do not race."""

from __future__ import annotations

import fcntl
import json
import signal
import time
from pathlib import Path

import pytest

from app.indexlock import lock_path
from tests.hostile import inputs
from tests.hostile.runner import Process, Quarry
from tests.integration import corpus

pytestmark = pytest.mark.slow


def slow_pdf(path: Path, pages: int = 100_000) -> Path:
    """A legitimate PDF whose extraction takes seconds (a 100,000-page ledger)."""
    return corpus.write_pdf(path, [[f"page {i} of the ledger"] for i in range(pages)])


def test_ctrl_c_stops_the_run_and_its_workers_promptly(quarry: Quarry, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    inputs.fifo(folder / "notes.txt")
    slow_pdf(folder / "ledger.pdf")
    process = quarry.start("index", str(folder), "--workers", "2")
    time.sleep(5)  # start-up, then both workers busy (the ledger takes ~10 s)
    assert process.popen.poll() is None, process.stderr
    sent = time.monotonic()
    process.signal(signal.SIGINT)
    run = process.finish(timeout=20)
    assert not run.timed_out and run.rc == 130, run.describe()
    assert time.monotonic() - sent < 3, run.describe()
    assert not run.leftover, "an extraction worker outlived the run"


def huge_text(path: Path, megabytes: int) -> Path:
    """Prose with no structure to speak of: chunking it takes about 0.7 s per MB."""
    line = "The keeper logged the lamp, the weather and every ship that passed the point. "
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(line * (megabytes * 1_000_000 // len(line)))
    return path


@pytest.mark.slow
def test_ctrl_c_while_a_huge_text_is_chunked_stops_promptly(quarry: Quarry, tmp_path: Path) -> None:
    """The preparer thread checks the run's cancel flag while it chunks, slice by slice."""
    folder = tmp_path / "docs"
    huge_text(folder / "logbook.txt", 12)  # ~10-15 s of chunking here
    process = quarry.start("index", str(folder), "--workers", "1")
    time.sleep(6)  # start-up and extraction done: the preparer is chunking now
    assert process.popen.poll() is None, process.stderr
    sent = time.monotonic()
    process.signal(signal.SIGINT)
    run = process.finish(timeout=30)
    assert not run.timed_out and run.rc == 130, run.describe()
    assert time.monotonic() - sent < 3, run.describe()


def _held(lock: Path) -> bool:
    """Whether another process holds ``lock`` (probed without waiting, released at once)."""
    with lock.open("a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def _wait_until_locked(db: Path, process: Process, timeout: float = 30.0) -> None:
    """Until ``process`` holds the index lock (a fixed sleep raced a fast first run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.popen.poll() is None:
        if lock_path(db).exists() and _held(lock_path(db)):
            return
        time.sleep(0.05)
    raise AssertionError(f"the first run never held the index lock: {process.stderr}")


def test_second_index_run_waits_for_the_first_and_repeats_nothing(
    quarry: Quarry, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    for i in range(20):
        (folder / f"note{i:02d}.txt").write_text(f"Note {i} about the lighthouse keeper's rota.")
    # Slow to extract, chunk and write; one embedding (every page is the same text).
    corpus.write_pdf(folder / "ledger.pdf", [["the same ledger page"]] * 40_000)
    first = quarry.start("index", str(folder), "--json")
    _wait_until_locked(quarry.db, first)  # the first one is indexing now
    second = quarry.start("index", str(folder), "--json")
    one, two = first.finish(timeout=60), second.finish(timeout=60)
    assert one.rc == 0 and two.rc == 0, one.describe() + two.describe()
    assert "waiting" in two.err, two.err
    done_by_first, done_by_second = json.loads(one.out), json.loads(two.out)
    assert done_by_first["ok"] == 23, done_by_first
    # Its reconcile found everything indexed by the first: nothing left to do.
    assert done_by_second["ok"] == done_by_second["failed"] == 0, done_by_second
