"""What one search hit loads when its chunk is huge: the text cut in SQL against whole.

    python benchmarks/search_load.py [--mb 95] [--rounds 5]

An index built before chunks had a length cap can hold one chunk of a whole hostile
one-line file (95 MB in the hostile-input trial). Search hits now come from
``Store.chunks_by_id``, whose SQL cuts each text to ``HIT_TEXT_CHARS``; the baseline is
the same query with the whole text (``CHUNK_COLS``, what it selected before), run
interleaved with it on the same database. Also timed: a whole keyword search
(``SearchService``, no model) that returns that file. Peak is Python's allocations
(tracemalloc) during the call.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import machine, mean, table

from app.search import SearchOptions, SearchService
from storage.base import CHUNK_COLS, chunk_record
from storage.models import NewChunk
from storage.store import Store
from tests.fixtures.store import FP, unit


def _build(db: Path, chars: int) -> None:
    text = "The rowing club minutes " + "x" * chars
    with Store.open(db) as store:
        store.write_file("/d/huge.txt", size=len(text), mtime=1.0, content_hash="h",
                         chunks=[NewChunk(0, text, 0, len(text), "h")],
                         vectors_by_hash={"h": unit("h")}, fingerprint=FP)  # fmt: skip


def _measure(call: Callable[[], object]) -> tuple[float, float]:
    """Seconds and peak MB of Python allocations of one call."""
    tracemalloc.start()
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=95)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.sqlite3"
        _build(db, args.mb * 1_000_000)
        figures: dict[str, list[tuple[float, float]]] = {"whole": [], "cut": [], "search": []}
        service = SearchService(db, None)
        store = service.store
        whole = f"SELECT {CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = 1"
        for _ in range(args.rounds):  # interleaved: a busy moment hits both sides
            figures["whole"].append(
                _measure(lambda: [chunk_record(r) for r in store.conn.execute(whole)])
            )
            figures["cut"].append(_measure(lambda: store.chunks_by_id([1])))
            figures["search"].append(
                _measure(lambda: service.search("rowing minutes", SearchOptions(k=10)))
            )
        service.close()
    base_s = mean([s for s, _ in figures["whole"]])
    base_mb = mean([m for _, m in figures["whole"]])
    rows = []
    for name, label in (("whole", "hit load, whole text (before)"),
                        ("cut", "hit load, cut in SQL (after)"),
                        ("search", "whole keyword search (after)")):  # fmt: skip
        s, mb = mean([s for s, _ in figures[name]]), mean([m for _, m in figures[name]])
        rows.append(
            [label, f"{s * 1000:.1f}", f"{mb:.1f}", f"{s / base_s:.3f}", f"{mb / base_mb:.4f}"]
        )
    print(f"{machine()}; one chunk of {args.mb} MB; mean of {args.rounds} interleaved rounds\n")
    print(table(["what", "ms", "peak MB (Python)", "time / before", "memory / before"], rows))


if __name__ == "__main__":
    main()
