"""The main window: one search field, results as you type, a preview, filters and status.

Typing restarts a short debounce; each search gets a request number and answers to older
numbers are dropped, so a slow search or rerank can never overwrite a newer query's results.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QListView,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.settings import Settings
from app.ui.backend import Hit, Preview
from app.ui.filters import FilterBar
from app.ui.opener import DesktopOpener, Opener
from app.ui.presets import all_presets
from app.ui.preview import PreviewPane
from app.ui.result_delegate import ResultDelegate
from app.ui.results_model import ResultsModel
from app.ui.status_bar import IndexStatusBar
from app.ui.workers import SearchWorker

DEBOUNCE_MS = 150


class MainWindow(QMainWindow):
    """Search-as-you-type over a ``SearchWorker``; opening files goes through ``opener``."""

    settings_requested = Signal()
    problems_requested = Signal()
    quit_requested = Signal()
    hidden_to_tray = Signal()
    results_shown = Signal(int)  # number of rows now on screen
    file_opened = Signal(str)  # a result the user opened (its file is embedded sooner)

    def __init__(
        self,
        worker: SearchWorker,
        opener: Opener | None = None,
        parent: QWidget | None = None,
        debounce_ms: int = DEBOUNCE_MS,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quarry")
        self.resize(1100, 700)
        self.worker = worker
        self.opener: Opener = opener or DesktopOpener()
        self.keep_in_tray = False
        self.rerank_enabled = True
        self._request = 0
        self._preview_key = ""
        self._build_widgets()
        self._debounce = QTimer(self, singleShot=True, interval=debounce_ms)
        self._debounce.timeout.connect(self.search_now)
        self._connect()
        self._build_actions()
        self.search_field.setFocus()

    # -- construction -------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.search_field = QLineEdit(placeholderText="Search your documents by meaning…")
        self.search_field.setClearButtonEnabled(True)
        font = self.search_field.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.search_field.setFont(font)
        self.filters = FilterBar()
        self.model = ResultsModel(self)
        self.results = QListView()
        self.results.setModel(self.model)
        self.results.setItemDelegate(ResultDelegate(self.results))
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setUniformItemSizes(True)
        self.results.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.preview = PreviewPane()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.results)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.search_field)
        layout.addWidget(self.filters)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.status = IndexStatusBar()
        self.setStatusBar(self.status)
        self.setFocusProxy(self.search_field)

    def _connect(self) -> None:
        self.search_field.textChanged.connect(self._on_text_changed)
        self.filters.filters_changed.connect(self.search_now)
        self.search_field.installEventFilter(self)
        self.results.installEventFilter(self)
        self.results.activated.connect(lambda index: self.open_current())
        self.results.selectionModel().currentChanged.connect(self._on_current_changed)
        self.preview.open_requested.connect(self._open_path)
        self.preview.reveal_requested.connect(self._reveal_path)
        self.status.problems_requested.connect(self.problems_requested)
        w = self.worker
        w.results_ready.connect(self._on_results)
        w.rerank_started.connect(self._on_rerank_started)
        w.rerank_updated.connect(self._on_reranked)
        w.rerank_finished.connect(self._on_rerank_finished)
        w.preview_ready.connect(self._on_preview)
        w.search_failed.connect(self._on_failed)

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&Quarry")
        for text, shortcut, slot in (
            ("&Settings…", QKeySequence.StandardKey.Preferences, self.settings_requested.emit),
            ("&Problem files…", None, self.problems_requested.emit),
            ("&Quit", QKeySequence.StandardKey.Quit, self.quit_requested.emit),
        ):
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.addAction(action)

    def apply_settings(self, settings: Settings) -> None:
        """Refresh everything the settings shape (folders, presets, rerank, tray)."""
        self.filters.set_folders(settings.folders)
        self.filters.set_presets(all_presets(settings), settings.query_preset)
        self.rerank_enabled = settings.rerank_enabled
        self.keep_in_tray = settings.keep_running_in_tray

    # -- searching ----------------------------------------------------------------------
    @property
    def request(self) -> int:
        """The request number of the search whose results are (or will be) shown."""
        return self._request

    def _on_text_changed(self, text: str) -> None:
        if not text.strip():
            self._debounce.stop()
            self._show_empty()
            return
        self._debounce.start()

    def search_now(self) -> None:
        """Run the current query immediately (debounce fired, or a filter changed)."""
        self._debounce.stop()
        query = self.search_field.text().strip()
        if not query:
            self._show_empty()
            return
        options = self.filters.options(rerank=self.rerank_enabled)
        self._request = self.worker.search(query, options)

    def _show_empty(self) -> None:
        self._request = self.worker.cancel()
        self.model.clear()
        self._preview_key = ""
        self.preview.show_hit(None)
        self.status.set_reranking(False)
        self.results_shown.emit(0)

    def _on_results(self, request: int, hits: list[Hit]) -> None:
        if request != self._request:
            return  # stale: the user typed since
        self.model.set_hits(hits)
        if hits:
            self.results.setCurrentIndex(self.model.index(0))
        else:
            self.preview.show_hit(None)
        self.status.showMessage(f"{len(hits)} results", 3000)
        self.results_shown.emit(len(hits))

    def _on_rerank_started(self, request: int) -> None:
        if request == self._request:
            self.status.set_reranking(True)

    def _on_reranked(self, request: int, hits: list[Hit]) -> None:
        if request == self._request:
            self.model.reorder(hits, animate=True)

    def _on_rerank_finished(self, request: int) -> None:
        if request == self._request:
            self.status.set_reranking(False)

    def _on_failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.status.set_reranking(False)
            self.status.showMessage(f"Search failed: {message}", 8000)

    # -- selection and preview ----------------------------------------------------------
    def current_hit(self) -> Hit | None:
        """The selected result, if any."""
        return self.model.hit(self.results.currentIndex().row())

    def _on_current_changed(self) -> None:
        hit = self.current_hit()
        if hit is None or hit.key == self._preview_key:
            return
        self._preview_key = hit.key
        self.preview.show_hit(hit)
        self.worker.preview(hit)

    def _on_preview(self, request: int, preview: Preview) -> None:
        if self.worker.is_current_preview(request):
            self.preview.show_preview(preview)

    # -- keyboard -----------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return self._handle_key(event)
        return super().eventFilter(watched, event)

    def _handle_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.reveal_current() if ctrl else self.open_current()
            return True
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.move_selection(-1 if key == Qt.Key.Key_Up else 1)
            return True
        if key == Qt.Key.Key_Escape:
            self.clear()
            return True
        if ctrl and key == Qt.Key.Key_C and not self.search_field.hasSelectedText():
            self.copy_current_path()
            return True
        return False

    def move_selection(self, delta: int) -> None:
        """Arrow keys move through results while typing stays in the search field."""
        rows = self.model.rowCount()
        if not rows:
            return
        row = min(rows - 1, max(0, self.results.currentIndex().row() + delta))
        self.results.selectionModel().setCurrentIndex(
            self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.results.scrollTo(self.model.index(row))

    def open_current(self) -> None:
        """Enter: open the selected file with its default application."""
        hit = self.current_hit()
        if hit:
            self._open_path(hit.path)

    def reveal_current(self) -> None:
        """Ctrl+Enter: show the selected file in its folder."""
        hit = self.current_hit()
        if hit:
            self._reveal_path(hit.path)

    def copy_current_path(self) -> None:
        """Ctrl+C: copy the selected file's path."""
        hit = self.current_hit()
        if hit:
            QGuiApplication.clipboard().setText(hit.path)
            self.status.showMessage(f"Copied {hit.path}", 3000)

    def clear(self) -> None:
        """Esc: clear the query and the results, back to the search field."""
        self.search_field.clear()
        self._show_empty()
        self.search_field.setFocus()

    def _open_path(self, path: str) -> None:
        if path:
            self.opener.open(path)
            self.file_opened.emit(path)

    def _reveal_path(self, path: str) -> None:
        if path:
            self.opener.reveal(path)

    # -- closing ------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """With the tray option, closing hides the window and indexing goes on."""
        if self.keep_in_tray:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
            return
        event.accept()
        self.quit_requested.emit()
