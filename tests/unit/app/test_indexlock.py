"""The index lock: a second holder waits (and is told who holds it), a cancel ends the wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from app.indexlock import index_lock


def test_second_holder_waits_for_the_first_and_hears_who_it_is(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    heard: list[str] = []
    order: list[str] = []
    with index_lock(db, "quarry index", heard.append) as got:
        assert got

        def second() -> None:
            with index_lock(db, "quarry watch", heard.append) as got_too:
                order.append(f"second {got_too}")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first done")
    thread.join(5)
    assert order == ["first done", "second True"]
    assert len(heard) == 1 and "quarry index" in heard[0]


def test_waiting_ends_when_cancelled(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    cancel = threading.Event()
    with (
        index_lock(db, "quarry index", lambda holder: None),
        index_lock(db, "quarry index", lambda holder: cancel.set(), cancel.is_set) as got,
    ):
        assert not got
