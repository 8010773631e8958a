"""The main window: one search field, one row per file as you type, a preview, filters.

Typing restarts a short debounce; each search gets a request number and answers to older
numbers are dropped, so a slow search or rerank can never overwrite a newer query's results.
The query's operators (``type:pdf``, ``in:Projects``, ``after:last week``, ``-word``) show
as chips under the field and in the dropdowns, kept in step both ways. "More like this"
(preview button, row menu) lists files similar to the selected one until the query changes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QMainWindow,
    QMenu,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.query import Kind, Operator, parse, with_operator
from app.settings import Settings
from app.ui.chips import ChipBar
from app.ui.filters import FilterBar
from app.ui.immortal import keep_singletons_alive
from app.ui.opener import DesktopOpener, Opener, OpenFailed
from app.ui.presets import all_presets, saved_preset
from app.ui.preview import ElidedLabel, PreviewPane
from app.ui.protocols import Preview, ResultRow
from app.ui.result_delegate import ResultDelegate
from app.ui.results_model import ResultsModel
from app.ui.status_bar import IndexStatusBar
from app.ui.workers import SearchWorker

DEBOUNCE_MS = 150
SYNCED: tuple[Kind, ...] = ("type", "in", "after", "from")


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
        keep_singletons_alive()  # idempotent; app.ui already did it on import
        super().__init__(parent)
        self.setWindowTitle("Quarry")
        self.resize(1100, 700)
        self.worker = worker
        self.opener: Opener = opener or DesktopOpener()
        self.keep_in_tray = False
        self.rerank_enabled = True
        self._preview_key = ""
        self._preview_hit: ResultRow | None = None
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
        self.search_field.setToolTip(
            '"exact phrase", -word, type:pdf, in:Folder, path:text, after:last week, before:2024'
        )
        font = self.search_field.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.search_field.setFont(font)
        self.chips = ChipBar()
        self.filters = FilterBar()
        self.model = ResultsModel(self)
        self.results = QTreeView()
        self.results.setModel(self.model)
        self.delegate = ResultDelegate(self.results)
        self.results.setItemDelegate(self.delegate)
        self.results.setHeaderHidden(True)
        self.results.setIndentation(14)
        self.results.setExpandsOnDoubleClick(False)
        self.results.setUniformRowHeights(False)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.preview = PreviewPane()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._results_column())
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.search_field)
        layout.addWidget(self.chips)
        layout.addWidget(self.filters)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.status = IndexStatusBar()
        self.setStatusBar(self.status)
        self.setFocusProxy(self.search_field)

    def _results_column(self) -> QWidget:
        """The list, under a banner that says when it lists files like another one."""
        # Elided: a long file name in a plain label widened the list and moved the splitter.
        self.similar_label = ElidedLabel(Qt.TextElideMode.ElideMiddle)
        self.similar_close = QToolButton()
        self.similar_close.setText("✕")
        self.similar_close.setToolTip("Back to the search")
        banner = QWidget()
        row = QHBoxLayout(banner)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.similar_label, 1)
        row.addWidget(self.similar_close)
        self.similar_banner = banner
        banner.setVisible(False)
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(banner)
        layout.addWidget(self.results, 1)
        return column

    def _connect(self) -> None:
        self.search_field.textChanged.connect(self._on_text_changed)
        self.filters.filters_changed.connect(self.search_now)
        self.model.weaker_shown.connect(self._count_results)
        self.filters.choice_made.connect(self._on_choice)
        self.chips.remove_requested.connect(self._remove_operator)
        self.search_field.installEventFilter(self)
        self.results.installEventFilter(self)
        self.results.activated.connect(self._on_activated)
        self.results.customContextMenuRequested.connect(self._context_menu)
        self.results.selectionModel().currentChanged.connect(self._on_current_changed)
        self.delegate.more_clicked.connect(lambda row: self.toggle_more(self.model.index(row)))
        self.preview.open_requested.connect(self._open_path)
        self.preview.reveal_requested.connect(self._reveal_path)
        self.preview.similar_requested.connect(lambda: self.more_like_this())
        self.preview.more_requested.connect(self._load_more)
        self.similar_close.clicked.connect(self.search_now)
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
            self._action(menu, text, shortcut, slot)
        find = self.menuBar().addMenu("&Find")
        self._action(
            find, "&Next match", QKeySequence.StandardKey.FindNext, self.preview.next_match
        )
        self._action(
            find,
            "&Previous match",
            QKeySequence.StandardKey.FindPrevious,
            self.preview.previous_match,
        )
        self._action(find, "More &like this", QKeySequence("Ctrl+L"), self.more_like_this)
        self._action(find, "Show &weaker matches", QKeySequence("Ctrl+Shift+A"), self.show_weaker)

    def _action(
        self,
        menu: QMenu,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | None,
        slot: Callable[[], object],
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def apply_settings(self, settings: Settings) -> None:
        """Refresh everything the settings shape (folders, presets, rerank, tray)."""
        self.filters.set_folders(settings.folders)
        self.filters.set_presets(all_presets(settings), *saved_preset(settings))
        self.rerank_enabled = settings.rerank_enabled
        self.keep_in_tray = settings.keep_running_in_tray

    def show_instruction_support(self, uses: bool | None) -> None:
        """Disable the Instruction choice, saying why, when the model takes no instruction."""
        self.filters.set_instruction_support(uses)

    # -- searching ----------------------------------------------------------------------
    @property
    def request(self) -> int:
        """The request number of the search whose results are (or will be) shown."""
        return self.worker.latest

    def _on_text_changed(self, text: str) -> None:
        parsed = parse(text)
        self.chips.show_query(parsed)
        for kind in SYNCED:
            found = parsed.of_kind(kind)
            self.filters.reflect(kind, found[-1].value if found else None)
        if not parsed.text.strip():
            self._debounce.stop()
            self._show_empty()
            return
        self._debounce.start()

    def _on_choice(self, kind: str) -> None:
        """A dropdown choice rewrites the same operator when the query names one."""
        parsed = parse(self.search_field.text())
        if parsed.of_kind(kind):  # type: ignore[arg-type]
            self.search_field.setText(with_operator(parsed, kind, self.filters.choice(kind)))  # type: ignore[arg-type]

    def _remove_operator(self, operator: Operator) -> None:
        self.search_field.setText(parse(self.search_field.text()).without(operator))
        self.search_now()

    def search_now(self) -> None:
        """Run the current query immediately (debounce fired, or a filter changed)."""
        self._debounce.stop()
        self.similar_banner.setVisible(False)
        query = self.search_field.text().strip()
        if not parse(query).text.strip():
            self._show_empty()
            return
        options = self.filters.options(rerank=self.rerank_enabled)
        self.worker.search(query, options)

    def more_like_this(self, hit: ResultRow | None = None, passage: bool = False) -> None:
        """List files similar to ``hit`` (default: the selected file), no model needed."""
        target = hit or self.current_file()
        if target is None:
            return
        self._debounce.stop()
        self.worker.similar(target, passage)
        self.similar_label.setText(f"Files like {target.name}")
        self.similar_banner.setVisible(True)

    def _show_empty(self) -> None:
        self.worker.cancel()
        self.model.clear()
        self._preview_key = ""
        self.preview.show_hit(None)
        self.status.set_reranking(False)
        self.status.set_result_count(None)
        self.results_shown.emit(0)

    def _on_results(self, request: int, hits: list[ResultRow]) -> None:
        if not self.worker.is_current(request):
            return  # stale: the user typed since
        self.model.set_hits(hits)
        shown = self.model.hits()
        if shown:
            self.results.setCurrentIndex(self.model.index(0))
        else:
            self.preview.show_hit(None)
        self._count_results()
        self.results_shown.emit(len(shown))

    def _count_results(self) -> None:
        self.status.set_result_count(len(self.model.hits()), self.model.weak_count)

    def show_weaker(self) -> None:
        """Add the weaker matches to the list ("Show weaker matches")."""
        self.model.show_weaker()

    def _on_rerank_started(self, request: int) -> None:
        if self.worker.is_current(request):
            self.status.set_reranking(True)

    def _on_reranked(self, request: int, hits: list[ResultRow]) -> None:
        if self.worker.is_current(request):
            self.model.reorder(hits, animate=True)

    def _on_rerank_finished(self, request: int) -> None:
        if self.worker.is_current(request):
            self.status.set_reranking(False)

    def _on_failed(self, request: int, message: str) -> None:
        if self.worker.is_current(request):
            self.status.set_reranking(False)
            self.status.showMessage(f"Search failed: {message}", 8000)

    # -- selection and preview ----------------------------------------------------------
    def current_hit(self) -> ResultRow | None:
        """The selected row: a file, or one of its passages."""
        return self.model.hit_at(self.results.currentIndex())

    def current_file(self) -> ResultRow | None:
        """The selected file (a passage row's file)."""
        index = self.results.currentIndex()
        parent = self.model.parent(index)
        return self.model.hit_at(parent if parent.isValid() else index)

    def _on_current_changed(self) -> None:
        hit = self.current_hit()
        if hit is None or hit.key == self._preview_key:
            return
        self._preview_key = hit.key
        self._preview_hit = hit
        self.preview.show_hit(hit)
        self.worker.preview(hit)

    def _on_preview(self, request: int, preview: Preview) -> None:
        if self.worker.is_current_preview(request):
            self.preview.show_preview(preview)

    def _load_more(self, direction: int) -> None:
        """Widen the loaded text of a big file before or after what is shown."""
        shown, hit = self.preview.preview, self._preview_hit
        if shown is None or hit is None:
            return
        size = max(shown.end - shown.start, 1)
        start = max(0, shown.start - size) if direction < 0 else shown.start
        end = shown.end if direction < 0 else min(shown.length, shown.end + size)
        self.worker.preview(hit, (start, end))

    def toggle_more(self, index: QModelIndex | None = None) -> None:
        """Open or close a file's further passages ("N more matches in this file")."""
        target = index if index is not None else self.results.currentIndex()
        parent = self.model.parent(target)
        row = parent if parent.isValid() else target
        if not self.model.hasChildren(row):
            return
        self.results.setExpanded(row, not self.results.isExpanded(row))

    def _on_activated(self, index: QModelIndex) -> None:
        if self.model.is_weaker_row(index):
            self.show_weaker()
        else:
            self.open_current()

    def _context_menu(self, point: QPoint) -> None:
        index = self.results.indexAt(point)
        hit = self.model.hit_at(index)
        if hit is None:
            return
        passage = self.model.parent(index).isValid()
        menu = QMenu(self)
        menu.addAction("Open", lambda: self._open_path(hit.path))
        menu.addAction("Reveal in folder", lambda: self._reveal_path(hit.path))
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(hit.path))
        menu.addAction("More like this file", lambda: self.more_like_this(hit))
        if passage:
            menu.addAction("More like this passage", lambda: self.more_like_this(hit, True))
        menu.popup(self.results.viewport().mapToGlobal(point))
        self.context_menu = menu

    # -- keyboard -----------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return self._handle_key(event)
        return super().eventFilter(watched, event)

    def _handle_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        mods = event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.model.is_weaker_row(self.results.currentIndex()):
                self.show_weaker()
            else:
                self.reveal_current() if ctrl else self.open_current()
            return True
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.move_selection(-1 if key == Qt.Key.Key_Up else 1)
            return True
        if alt and key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            self._expand_current(key == Qt.Key.Key_Right)
            return True
        if key == Qt.Key.Key_Escape:
            self.clear()
            return True
        if ctrl and key == Qt.Key.Key_C and not self.search_field.hasSelectedText():
            self.copy_current_path()
            return True
        return False

    def _expand_current(self, expand: bool) -> None:
        """Alt+Right / Alt+Left: open or close the current file's further passages."""
        index = self.results.currentIndex()
        parent = self.model.parent(index)
        row = parent if parent.isValid() else index
        if self.model.hasChildren(row):
            self.results.setExpanded(row, expand)
            if not expand and parent.isValid():
                self._select(row)

    def move_selection(self, delta: int) -> None:
        """Arrow keys move through the visible rows while typing stays in the search field."""
        current = self.results.currentIndex()
        if not current.isValid():
            target = self.model.index(0)
        else:
            step = self.results.indexBelow if delta > 0 else self.results.indexAbove
            target = step(current)
        if target.isValid():
            self._select(target)

    def _select(self, index: QModelIndex) -> None:
        self.results.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.results.scrollTo(index)

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
        if self._launch(self.opener.open, path):
            self.file_opened.emit(path)

    def _reveal_path(self, path: str) -> None:
        self._launch(self.opener.reveal, path)

    def _launch(self, action: Callable[[str], None], path: str) -> bool:
        """Open or reveal ``path``; a failure is said in the window (a launcher missing on
        this desktop is not a silent no-op)."""
        if not path:
            return False
        try:
            action(path)
        except OpenFailed as exc:
            self.status.showMessage(str(exc), 15000)
            return False
        return True

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
