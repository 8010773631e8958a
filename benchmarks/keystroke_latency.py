"""Time from the last keystroke to the first results on screen, vs a direct search, one run.

    python benchmarks/keystroke_latency.py [--queries 30] [--topics 40]

Indexes the first ``--topics`` pydoc help topics with the starter model (real ``Pipeline``),
then opens the real window offscreen through ``AppController`` with ``RealSearch`` (the
services the app builds). For each labelled query it types all but the last character
with ``QTest.keyClicks``, then times from the last ``QTest.keyClick`` to the window's
``results_shown`` signal (rows are in the model), split at the moment the debounce hands
the query to the ``SearchWorker``: debounce delay + work (search on the worker thread,
signal back, model reset). Baseline in the same run, interleaved query by query: the same
query through ``SearchService.search`` directly on the main thread, no UI.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from report import index_folder, machine, percentile, starter_spec, table, write_pydoc_corpus

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.search import SearchOptions, SearchService
from app.settings import Settings
from app.ui.adapters import RealSearch
from app.ui.controller import AppController
from app.ui.filters import ROWS
from app.ui.main_window import DEBOUNCE_MS, MainWindow
from app.ui.presets import all_presets
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from storage.models import SearchFilters

TIMEOUT_MS = 60_000


@dataclass
class Timings:
    """Seconds per query for each measured span."""

    debounce: list[float] = field(default_factory=list)
    work: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)


class Probe:
    """Stamps when the window hands a query to the worker and when rows are shown."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.started: float | None = None
        self.shown: float | None = None
        self.loop = QEventLoop()
        worker = window.worker
        search = worker.search

        def stamped(query: str, options: SearchOptions) -> int:
            self.started = time.perf_counter()
            return search(query, options)

        worker.search = stamped  # type: ignore[method-assign]
        window.results_shown.connect(self._on_shown)

    def _on_shown(self, rows: int) -> None:
        # Any answer counts, even one whose files are all weaker matches (0 rows above
        # "Show N weaker matches"): that list is what the user now sees.
        if self.started is not None and self.shown is None:
            self.shown = time.perf_counter()
            self.loop.quit()

    def type_query(self, text: str) -> tuple[float, float, float]:
        """(keystroke -> worker, worker -> shown, keystroke -> shown) for one query."""
        field_ = self.window.search_field
        self.started = self.shown = None  # first: clearing emits results_shown(0)
        self.window.clear()
        QApplication.processEvents()
        QTest.keyClicks(field_, text[:-1])
        pressed = time.perf_counter()
        QTest.keyClick(field_, text[-1])
        QTimer.singleShot(TIMEOUT_MS, self.loop.quit)
        if self.shown is None:
            self.loop.exec()
        if self.started is None or self.shown is None:
            raise RuntimeError(f"no results shown for {text!r} within {TIMEOUT_MS} ms")
        return self.started - pressed, self.shown - self.started, self.shown - pressed


def service_options(settings: Settings) -> SearchOptions:
    """What ``RealSearch`` asks the service for when no filter is set."""
    instruction = all_presets(settings).get(settings.query_preset)
    return SearchOptions(k=ROWS, filters=SearchFilters(), instruction=instruction)


def load_queries(count: int) -> list[str]:
    """The first ``count`` labelled pydoc queries."""
    from quality import load_queries as labelled

    return [q.text for q in labelled()][:count]


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f}"


def report(t: Timings, chunks: int, queries: int) -> None:
    base = percentile(t.direct, 50)
    rows = [
        ["direct SearchService.search (baseline)", ms(t.direct, 50), ms(t.direct, 95), "1.00x"],
        ["UI: last keystroke -> search starts (debounce)", ms(t.debounce, 50), ms(t.debounce, 95),
         f"{percentile(t.debounce, 50) / base:.2f}x"],
        ["UI: search starts -> rows shown (work)", ms(t.work, 50), ms(t.work, 95),
         f"{percentile(t.work, 50) / base:.2f}x"],
        ["UI: last keystroke -> rows shown (total)", ms(t.total, 50), ms(t.total, 95),
         f"{percentile(t.total, 50) / base:.2f}x"],
    ]  # fmt: skip
    print(f"## Keystroke to first results, offscreen window ({machine()})\n")
    print(
        f"{queries} queries, {chunks} chunks, starter model, debounce {DEBOUNCE_MS} ms, "
        f"no rerank; ratio = p50 / direct p50.\n"
    )
    print(table(["span", "p50 ms", "p95 ms", "p50 vs direct"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--topics", type=int, default=40, help="pydoc topics to index")
    parser.add_argument("--model", default=None, help="embedding model spec (default: starter)")
    args = parser.parse_args()
    queries = load_queries(args.queries)
    spec = args.model or starter_spec()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["QUARRY_HOME"] = str(Path(tmp) / "home")  # never the user's settings
        folder = Path(tmp) / "pydoc"
        write_pydoc_corpus(folder)
        for path in sorted(folder.iterdir())[args.topics :]:
            path.unlink()
        db = Path(tmp) / "index.sqlite3"
        indexer = load_embedder(EmbedderConfig(model=spec))
        settings, chunks = index_folder(folder, db, indexer, spec)
        indexer.close()
        app = QApplication.instance() or QApplication([])
        backend = RealSearch(settings, db)
        controller = AppController(settings, backend, None)
        controller.window.show()
        probe = Probe(controller.window)
        probe.type_query("warm up the model")  # loads the embedder on the worker thread
        direct = SearchService(db, backend.service().embedder)
        options = service_options(settings)
        direct.search("warm up", options)
        timings = Timings()
        for query in queries:
            debounce, work, total = probe.type_query(query)
            timings.debounce.append(debounce)
            timings.work.append(work)
            timings.total.append(total)
            started = time.perf_counter()
            direct.search(query, options)
            timings.direct.append(time.perf_counter() - started)
        direct.close()
        controller.window.keep_in_tray = False
        controller.search_worker.shutdown()
        backend.close()
        controller.window.close()
        app.processEvents()
    report(timings, chunks, len(queries))


if __name__ == "__main__":
    main()
