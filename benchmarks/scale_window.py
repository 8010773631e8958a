"""The real window on a large index, in a child process: launch to first results, memory.

    python benchmarks/scale_window.py serve PORT CLUSTERS      # the stub embedding server
    python benchmarks/scale_window.py launch DB FOLDER URL T0  # one measured launch

``launch`` builds the window exactly as ``quarry gui`` does (``AppController`` over
``RealSearch`` and ``RealIndexing``, offscreen), types a query as soon as the window is
shown and prints one JSON line: seconds from ``T0`` (the parent's clock just before it
started this process) to the window shown and to the first results on screen, the longest
stall of the main thread's event loop meanwhile, and the process's memory (VmRSS, VmHWM)
at first results and once the search index is loaded and the start-up reconcile is done.

The query embedder is Quarry's ``remote`` backend talking to ``serve``, a small
OpenAI-compatible server answering with 1024-d vectors near the synthetic index's cluster
centres (``scale_build``): the window holds no model weights, so its memory is the
window's and the index's own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

QUERIES = ["lighthouse keeper", "install the package with pip", "license terms of the GPL",
           "bug fix for memory leak", "configure the network interface", "python exceptions"]  # fmt: skip


def memory_mb() -> dict[str, float]:
    """VmRSS and VmHWM of this process in MB (Linux)."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def serve(port: int, clusters: int) -> None:
    """Answer ``POST /v1/embeddings`` with vectors near the synthetic clusters."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from scale_build import STUB_MODEL, centres, clustered

    hubs = centres(clusters)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vecs = clustered([str(t) for t in texts], hubs)
            data = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
            raw = json.dumps({"data": data, "model": STUB_MODEL}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def launch(db: Path, folder: Path, url: str, t0: float) -> dict[str, Any]:
    """One launch of the real window; returns the figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from scale_build import STUB_MODEL, bench_settings

    from app.ui.adapters import RealIndexing, RealSearch
    from app.ui.controller import AppController

    app = QApplication.instance() or QApplication([])
    settings = bench_settings(folder, embed_backend="remote", remote_url=url,
                              embed_model=STUB_MODEL)  # fmt: skip
    ctl = AppController(settings, RealSearch(settings, db), RealIndexing(settings, db))
    stall = _StallMeter()
    figures: dict[str, Any] = {"imported": time.time() - t0}
    ctl.start()
    app.processEvents()
    figures["shown"] = time.time() - t0
    loop, rows = QEventLoop(), [0]
    ctl.window.results_shown.connect(lambda n: (rows.__setitem__(0, n), n and loop.quit()))
    QTest.keyClicks(ctl.window.search_field, QUERIES[0])
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    figures.update(first_results=time.time() - t0, rows=rows[0], stall_s=stall.worst)
    figures["memory_at_results"] = memory_mb()
    figures.update(_settle(ctl, app))
    figures["memory_settled"] = memory_mb()
    ctl.quit()
    return figures


class _StallMeter:
    """The longest gap between 5 ms ticks of the main thread's event loop."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.worst = 0.0
        self._last = time.perf_counter()
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last)
        self._last = now


def _settle(ctl: Any, app: Any) -> dict[str, Any]:
    """Wait for the start-up reconcile (indexing idle), then time a few more queries."""
    from PySide6.QtTest import QTest

    idle = [False]
    ctl.indexing.progress_changed.connect(lambda p: idle.__setitem__(0, p.state == "idle"))
    deadline = time.monotonic() + 300
    while not idle[0] and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    later = []
    for query in QUERIES[1:]:
        shown = [False]
        ctl.window.results_shown.connect(lambda n, s=shown: s.__setitem__(0, n > 0))
        started = time.perf_counter()
        ctl.window.search_field.clear()
        QTest.keyClicks(ctl.window.search_field, query)
        while not shown[0] and time.perf_counter() - started < 60:
            app.processEvents()
            time.sleep(0.002)
        later.append(time.perf_counter() - started)
    return {"reconciled": idle[0], "later_query_s": later}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        db, folder, url, t0 = sys.argv[2:6]
        print(json.dumps(launch(Path(db), Path(folder), url, float(t0))))
