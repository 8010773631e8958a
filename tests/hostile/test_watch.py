"""``quarry watch`` against hostile changes made while it runs.

Each test starts the real CLI in a subprocess, changes the watched folder, polls the index
until the expected state (or a bound), then stops the watcher with SIGINT, which must end
it and its workers promptly.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.models import FileRecord
from tests.hostile import inputs
from tests.hostile.checks import chunks, records
from tests.hostile.runner import Process, Quarry

pytestmark = pytest.mark.slow
STOP_BOUND_S = 10.0


def wait_until(db: Path, ready: Callable[[dict[str, FileRecord]], bool], timeout: float) -> bool:
    """Poll the index until ``ready(records)``; False when the bound runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists() and ready(records(db)):
            return True
        time.sleep(0.2)
    return False


def ok(path: Path) -> Callable[[dict[str, FileRecord]], bool]:
    return lambda found: found.get(str(path), None) is not None and found[str(path)].status == "ok"


def denied(path: Path) -> Callable[[dict[str, FileRecord]], bool]:
    return lambda found: "permission denied" in (getattr(found.get(str(path)), "error", "") or "")


def stop(process: Process) -> None:
    """SIGINT, as Ctrl-C sends it; the watcher and every worker must be gone in the bound."""
    started = time.monotonic()
    process.signal(signal.SIGINT)
    run = process.finish(STOP_BOUND_S + 5)
    assert not run.timed_out and run.rc == 0, f"did not stop on Ctrl-C: {run.describe()}"
    assert time.monotonic() - started < STOP_BOUND_S, run.describe()
    assert not run.leftover, "a worker outlived the watcher"


def test_links_and_special_files_created_while_watching_are_never_read(
    quarry: Quarry, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0 the password file")
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    process = quarry.watch(folder)
    try:
        (folder / "s.txt").symlink_to(outside / "secret.txt")
        (folder / "zero.txt").symlink_to("/dev/zero")
        pipe = inputs.fifo(folder / "notes.txt")
        later = folder / "later.txt"
        later.write_text("Written after the links: proves the indexer still runs.")
        assert wait_until(quarry.db, ok(later), 20), process.stderr
        assert wait_until(quarry.db, lambda f: str(pipe) in f, 10), process.stderr
    finally:
        stop(process)
    assert not any("root:x:0" in c.text for c in chunks(quarry.db))
    found = records(quarry.db)
    assert "fifo" in (found[str(pipe)].error or "").lower(), found[str(pipe)]
    assert all(found[p].status != "ok" for p in found if p.endswith(("/s.txt", "/zero.txt")))


def test_undecodable_name_created_while_watching_keeps_the_watcher_alive(
    quarry: Quarry, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    process = quarry.watch(folder)
    try:
        odd = inputs.undecodable_name(folder, "Minutes of the rowing club meeting.")
        assert wait_until(quarry.db, ok(odd), 20), process.stderr
        later = folder / "later.txt"
        later.write_text("Written after the odd name: the indexer is still alive.")
        assert wait_until(quarry.db, ok(later), 20), process.stderr
    finally:
        stop(process)


def test_file_made_readable_while_watching_is_indexed(quarry: Quarry, tmp_path: Path) -> None:
    quarry.unprivileged = True  # as root: without the right to read every file
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    locked = folder / "locked.txt"
    locked.write_text("The treasurer's report on the boat house roof.")
    locked.chmod(0)
    process = quarry.watch(folder)
    try:
        assert wait_until(quarry.db, denied(locked), 20), process.stderr
        locked.chmod(0o644)
        assert wait_until(quarry.db, ok(locked), 15), process.stderr
    finally:
        stop(process)


def test_file_that_keeps_changing_is_indexed_while_it_changes(
    quarry: Quarry, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    inputs.normal_files(folder)
    process = quarry.watch(folder)
    log = folder / "growing.log"
    try:
        assert wait_until(quarry.db, ok(folder / "harbour.txt"), 20), process.stderr
        indexed_while_writing = False
        deadline = time.monotonic() + 12  # the watcher's maximum wait is 5 s
        with open(log, "a") as fh:
            while time.monotonic() < deadline and not indexed_while_writing:
                for _ in range(10):
                    fh.write(f"{time.time():.3f} the pump is running\n")
                    fh.flush()
                    time.sleep(0.05)
                indexed_while_writing = ok(log)(records(quarry.db))
        assert indexed_while_writing, "never indexed while it kept changing"
    finally:
        stop(process)
