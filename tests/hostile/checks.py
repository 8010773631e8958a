"""What every hostile run must satisfy, read from the index it left (plain functions,
imported by the tests; the fixtures stay in conftest)."""

from __future__ import annotations

import os
from pathlib import Path

from storage.models import Chunk, FileRecord
from storage.store import Store
from tests.hostile.runner import PEAK_RSS_BOUND_MB, Run


def records(db: Path) -> dict[str, FileRecord]:
    """Every file the index knows, by path."""
    with Store.open(db, readonly=True) as store:
        return {r.path: r for r in store.files()}


def chunks(db: Path) -> list[Chunk]:
    """Every chunk in the index."""
    with Store.open(db, readonly=True) as store:
        return [c for r in store.files() for c in store.chunks(r.path)]


def assert_sane(run: Run, db: Path, folder: Path, bound_s: float) -> dict[str, FileRecord]:
    """The acceptance of every hostile run: it finished in its bound under 1 GB, every
    file of ``folder`` has a status (and a reason unless ok), nothing outside it is
    indexed."""
    assert not run.timed_out, f"ran past {bound_s}s: {run.describe()}"
    assert run.rc in (0, 1), run.describe()
    assert run.seconds <= bound_s, run.describe()
    assert run.peak_mb < PEAK_RSS_BOUND_MB, run.describe()
    found = records(db)
    root = os.fsdecode(folder) + "/"
    assert all(path.startswith(root) for path in found), sorted(found)
    for name in os.listdir(folder):
        if os.path.islink(folder / name):
            continue  # links are not followed (follow_symlinks is off): no record
        record = found.get(root + name)
        assert record is not None, f"{name!a} has no status: {sorted(found)!a}"
        assert record.status == "ok" or record.error, record
    return found
