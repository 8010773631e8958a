"""Connections load no SQLite extension, and the store runs on stdlib sqlite3 without sqlean.

Both run in a fresh interpreter: the test process has long since imported its driver.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Write two files through the real store, then ask it by meaning and by keyword.
STORE_ROUND_TRIP = """
import sys
from pathlib import Path
import numpy as np
{setup}
from storage import connection
from storage.models import Fingerprint, NewChunk
from storage.store import Store

fp = Fingerprint("test/model", "", 64, "last")
rng = np.random.default_rng(3)
vecs = rng.standard_normal((2, 64)).astype(np.float32)
vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
with Store.open(Path(sys.argv[1])) as store:
    for i, text in enumerate(["lighthouse keeper", "harbour pilot"]):
        chunk = NewChunk(0, text, 0, len(text), f"h{{i}}")
        store.write_file(f"/d/{{i}}.txt", size=1, mtime=0.0, content_hash=str(i),
                         chunks=[chunk], vectors_by_hash={{f"h{{i}}": vecs[i]}}, fingerprint=fp)
with Store.open(Path(sys.argv[1]), readonly=True) as store:
    by_meaning = store.vector_search(vecs[1], 1)
    by_word = store.keyword_search("lighthouse", 5)
    chunks = store.chunks_by_id([by_meaning[0].chunk_id, by_word[0].chunk_id])
    print(connection.driver().__name__)
    print(chunks[by_meaning[0].chunk_id].text, "|", chunks[by_word[0].chunk_id].text)
    try:
        store.conn.execute("SELECT vec_version()")
    except Exception as exc:
        print("vec:", type(exc).__name__, exc)
    print("sqlite_vec imported:", "sqlite_vec" in sys.modules)
"""


def _run(tmp_path: Path, setup: str = "") -> list[str]:
    code = STORE_ROUND_TRIP.format(setup=setup)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "index.sqlite3")],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_no_sqlite_extension_is_loaded(tmp_path: Path) -> None:
    out = _run(tmp_path)
    assert out[1] == "harbour pilot | lighthouse keeper"
    assert out[2].startswith("vec: OperationalError") and "no such function" in out[2]
    assert out[3] == "sqlite_vec imported: False"


def test_the_store_works_on_stdlib_sqlite3_without_sqlean(tmp_path: Path) -> None:
    out = _run(tmp_path, setup='sys.modules["sqlean"] = None  # not installed')
    assert out[0] == "sqlite3"
    assert out[1] == "harbour pilot | lighthouse keeper"
