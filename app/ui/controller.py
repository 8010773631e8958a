"""The app controller: wires settings, search and indexing workers, window, dialogs and tray.

It owns the only mutable copy of ``Settings``; every change goes through ``apply_settings``,
which saves, emits ``settings_changed`` and applies what can change without a restart
(filters, presets, rerank, tray, folders -> a new indexing run, dimension -> a rebuild).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from app import settings as settings_mod
from app.download import (
    ModelsPrepared,
    ModelUnavailable,
    describe_size,
    fallback_settings,
    is_starter,
    starter_description,
)
from app.settings import Settings
from app.ui.downloader import ModelDownloader
from app.ui.main_window import MainWindow
from app.ui.opener import Opener
from app.ui.problems import ProblemsDialog
from app.ui.protocols import ResultRow, WindowIndexing, WindowSearch
from app.ui.settings_dialog import SettingsDialog
from app.ui.tasks import TaskRunner
from app.ui.tray import Tray
from app.ui.welcome import WelcomeDialog
from app.ui.workers import IndexingWorker, SearchWorker
from storage.models import BAND_OPENED, BAND_SEARCHED, ProblemFile

if TYPE_CHECKING:
    from app.ui.api_server import WindowApi

log = logging.getLogger(__name__)

# Settings whose change needs a fresh indexing run (the rules decide which files exist).
REINDEX_KEYS = ("folders", "include", "exclude", "max_file_mb", "follow_symlinks")
WARM_UP_WAIT_MS = 10_000  # indexing starts after the search warm-up, or after this
# Settings the indexing run reads once when it starts (a fresh run applies them): turning
# OCR on makes the fresh run's reconcile queue the scans skipped while it was off.
RUN_KEYS = ("pause_embedding_on_battery", "ocr_enabled", "ocr_engine", "ocr_languages")
ServiceFactory = Callable[[Settings], tuple[WindowSearch, WindowIndexing | None]]


def changed(old: Settings, new: Settings, keys: tuple[str, ...]) -> bool:
    """True when any of ``keys`` differs between the two settings."""
    return any(getattr(old, k) != getattr(new, k) for k in keys)


class AppController(QObject):
    """Owns the window and workers; the window never sees settings files or threads."""

    settings_changed = Signal(object)  # Settings
    quitting = Signal()

    def __init__(
        self,
        settings: Settings,
        search: WindowSearch,
        indexing: WindowIndexing | None = None,
        *,
        opener: Opener | None = None,
        settings_path: Path | None = None,
        icon: QIcon | None = None,
        factory: ServiceFactory | None = None,
        downloader: ModelDownloader | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.settings_path = settings_path
        self.factory = factory
        self.downloader = downloader
        self.model_message: QMessageBox | None = None  # the last "model unavailable" notice
        self.indexing_message: QMessageBox | None = None  # the last "indexing stopped" notice
        self.api: WindowApi | None = None  # the HTTP API server, made when first switched on
        self.api_message: QMessageBox | None = None  # the last "API could not start" notice
        self.search_worker = SearchWorker(search, self)
        self.window = MainWindow(self.search_worker, opener=opener)
        self.tasks = TaskRunner(self.window)  # dies with the window: no answer outlives it
        self.window.apply_settings(settings)
        self.indexing: IndexingWorker | None = None
        self.problems_dialog: ProblemsDialog | None = None
        self.tray: Tray | None = None
        if icon is not None:
            self.window.setWindowIcon(icon)
            self.tray = Tray(icon, self)
        self._quitting = False
        self._downloading = False
        self._warming = False
        self._wire_window()
        self._wire_tray()
        self._wire_downloader()
        self.set_indexing(indexing)

    # -- wiring -------------------------------------------------------------------------
    def _wire_window(self) -> None:
        w = self.window
        w.settings_requested.connect(self.open_settings)
        w.problems_requested.connect(self.show_problems)
        w.quit_requested.connect(self.quit)
        w.status.pause_toggled.connect(self.toggle_pause)
        w.file_opened.connect(lambda path: self.promote([path], BAND_OPENED))
        self.search_worker.results_ready.connect(self._promote_results)

    def _wire_tray(self) -> None:
        if self.tray is None:
            return
        self.tray.show_hide_requested.connect(self.toggle_window)
        self.tray.pause_toggled.connect(self.toggle_pause)
        self.tray.quit_requested.connect(self.quit)
        self.window.keep_in_tray = self.settings.keep_running_in_tray and self.tray.available()

    def _wire_downloader(self) -> None:
        if self.downloader is None:
            return
        self.downloader.setParent(self)
        self.downloader.download_progress.connect(self._on_download_progress)
        self.downloader.models_ready.connect(self._on_models_ready)
        self.downloader.models_failed.connect(self._on_models_failed)

    def set_indexing(self, backend: WindowIndexing | None) -> None:
        """Attach an indexer (or none); the status bar follows its signals."""
        if self.indexing is not None:
            self.indexing.shutdown()
        self.indexing = IndexingWorker(backend, self) if backend is not None else None
        if self.indexing is None:
            return
        status = self.window.status
        self.indexing.progress_changed.connect(status.show_progress)
        self.indexing.paused_changed.connect(status.set_paused)
        if self.tray is not None:
            self.indexing.paused_changed.connect(self.tray.set_paused)
        self.indexing.indexing_finished.connect(self.load_problems)
        self.indexing.rebuild_finished.connect(self._on_rebuilt)
        self.indexing.indexing_failed.connect(self._on_indexing_failed)

    def _on_indexing_failed(self, message: str) -> None:
        """Indexing stopped on an error: say it where it stays (a dialog), not only in a
        status line that fades; search goes on with what is indexed."""
        if self._quitting:
            return
        self.window.status.showMessage(f"Indexing stopped: {message}", 10000)
        self.indexing_message = self._notice(
            QMessageBox.Icon.Warning,
            "Quarry: indexing stopped",
            f"Indexing stopped:\n\n{message}\n\nSearch still answers from what is indexed. "
            "Fix the cause (e.g. choose the model the index was built with, or let Settings "
            "rebuild it for the new one), then indexing starts again with the app.",
        )

    def _notice(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        """A window-modal message with an OK button, shown without blocking; the caller
        keeps it (tests and later notices find it there)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.open()
        return box

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Show the window; the first run opens the welcome, later runs resume indexing."""
        self.window.show()
        if self.tray is not None:
            self.tray.show()
        if not self.settings.first_run_done:
            self.show_welcome()
        else:
            self._search_first()
        self.load_problems()
        self.apply_api()

    def _search_first(self) -> None:
        """Warm search up (model, vector index), then start indexing.

        Indexing starts with a reconcile of every watched file, which competes with the
        first query for the CPU (and Python's GIL): at 100,000 files that made the first
        results a second later. A slow warm-up never holds indexing back for long.
        """
        self._warming = True
        self.search_worker.prepared.connect(self._warmed_up)  # a bound slot: main thread
        QTimer.singleShot(WARM_UP_WAIT_MS, self._warmed_up)
        self.search_worker.prepare()

    def _warmed_up(self) -> None:
        if not self._quitting:
            backend = self.search_worker.backend
            self.window.show_instruction_support(backend.uses_instruction())
            self.window.status.set_model_notice(backend.model_notice())
        if self._warming and not self._quitting:
            self._warming = False
            self.prepare_models()

    def start_indexing(self) -> None:
        """Start (or restart) the indexer over the watched folders."""
        if self.indexing is not None and self.settings.folders:
            self.indexing.start()

    def toggle_pause(self) -> None:
        """Pause or resume embedding (status bar button, tray menu)."""
        if self.indexing is not None:
            self.indexing.toggle_pause()

    def promote(self, paths: list[str], band: int) -> None:
        """Ask phase 2 to embed these files sooner."""
        if self.indexing is not None:
            self.indexing.promote(paths, band)

    def _promote_results(self, request: int, hits: list[ResultRow]) -> None:
        """Files found by keyword alone (no vector yet) that match the current search."""
        if self.window.request == request:
            paths = [h.path for h in hits if "vector" not in h.scores]
            self.promote(list(dict.fromkeys(paths)), BAND_SEARCHED)

    def toggle_window(self) -> None:
        """Tray click: show and raise, or hide."""
        if self.window.isVisible():
            self.window.hide()
        else:
            self.window.show()
            self.window.raise_()
            self.window.activateWindow()

    def quit(self) -> None:
        """Quit fast, even mid-indexing: committed files stay, the rest resumes next start."""
        self._quitting = True
        self.quitting.emit()
        self.search_worker.shutdown(wait_ms=500)
        self.tasks.shutdown(wait_ms=200)
        if self.api is not None:
            self.api.stop()
        if self.downloader is not None:
            self.downloader.shutdown(wait_s=0.2)
        if self.indexing is not None:
            self.indexing.shutdown(wait_s=0.5)
        if self.tray is not None:
            self.tray.icon.hide()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    # -- settings -----------------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        """Open the settings dialog (non-blocking); Save applies the result."""
        dialog = SettingsDialog(self.settings, self.window)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()
        return dialog

    def show_welcome(self) -> WelcomeDialog:
        """The first-run dialog; accepting it saves the choices and starts indexing."""
        dialog = WelcomeDialog(self.settings, parent=self.window)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()
        return dialog

    def apply_settings(self, new: Settings) -> None:
        """Save and apply ``new`` without a restart wherever possible."""
        old, self.settings = self.settings, new
        try:
            settings_mod.save(new, self.settings_path)
        except OSError as exc:
            QMessageBox.warning(self.window, "Quarry", f"Could not save settings: {exc}")
        self.window.apply_settings(new)
        if self.tray is not None:
            self.window.keep_in_tray = new.keep_running_in_tray and self.tray.available()
        self.settings_changed.emit(new)
        self._apply_engine_changes(old, new)
        self.apply_api()

    def _apply_engine_changes(self, old: Settings, new: Settings) -> None:
        engine_keys = ("embed_model", "embed_backend", "device", "precision", "remote_url")
        rerank_keys = ("rerank_model", "rerank_depth", "query_preset", "custom_presets")
        if self.factory is not None and changed(old, new, engine_keys + rerank_keys):
            self._swap_services()
            self.prepare_models()
            return
        # A running pipeline keeps the folders, rules, power probe and OCR it started with: a
        # change needs a fresh run (the welcome's first folders wait for the model check).
        fresh = changed(old, new, RUN_KEYS) or (
            old.first_run_done and changed(old, new, REINDEX_KEYS)
        )
        if self.factory is not None and fresh:
            _, indexing = self.factory(new)
            self.set_indexing(indexing)
            self.start_indexing()
        if old.dimension != new.dimension and self.indexing is not None:
            self.window.status.showMessage("Rebuilding the index at the new dimension…", 5000)
            self.indexing.start_rebuild(new.dimension)
        if not old.first_run_done and new.first_run_done:
            self.prepare_models()
        elif changed(old, new, REINDEX_KEYS):
            self.start_indexing()

    def _on_rebuilt(self, dimension: int) -> None:
        """The new index is active: queries must now be embedded at the new dimension."""
        if self._quitting:  # a rebuild stopped by quitting resumes at the next start
            return
        self.window.status.showMessage(f"Index rebuilt at {dimension or 'full'} dimensions", 5000)
        if self.factory is not None:
            self._swap_services()
            self.start_indexing()

    def _swap_services(self) -> None:
        """New search and indexing services for the current settings; the old ones stop
        and free their models (the search one once its last task has finished)."""
        assert self.factory is not None
        search, indexing = self.factory(self.settings)
        self.search_worker.replace_search(search)
        self.set_indexing(indexing)

    # -- the API for assistants and scripts -------------------------------------------
    def apply_api(self) -> None:
        """Start, stop or update the HTTP API server as the settings say (off by default)."""
        if self.api is None:
            if not self.settings.api_server:
                return
            from app.ui.api_server import WindowApi

            self.api = WindowApi(lambda: self.search_worker.backend)
        try:
            message = self.api.apply(self.settings)
        except (OSError, ImportError) as exc:
            self.api_message = self._notice(
                QMessageBox.Icon.Warning,
                "Quarry: API server",
                f"The API server for assistants and scripts could not start:\n\n{exc}\n\n"
                "Search in the window is not affected. Choose another port in settings.json "
                "(api_port), or install the 'serve' extra if it is missing.",
            )
            return
        if message:
            self.window.status.showMessage(message, 8000)

    # -- models -------------------------------------------------------------------------
    def prepare_models(self) -> None:
        """Check the configured models off the main thread (downloading with consent), then index.

        Without a downloader (pure-UI tests) indexing starts at once.
        """
        if self.downloader is None:
            self.start_indexing()
            return
        self.downloader.start(self.settings)

    def _on_download_progress(self, spec: str, done: int, total: int) -> None:
        if not self._downloading:
            self._downloading = True
            self._pause_search(f"Downloading {spec}; search starts when it is ready.")
        name = spec.split(":")[0].split("/")[-1]
        self.window.status.showMessage(f"Downloading {name}… {describe_size(done, total)}")

    def _pause_search(self, reason: str) -> None:
        from app.ui.adapters import UnavailableSearch

        self.search_worker.replace_search(UnavailableSearch(reason, self.settings))

    def _on_models_ready(self, prepared: ModelsPrepared) -> None:
        if self._quitting:
            return
        if self._downloading or prepared.downloaded:
            self._downloading = False
            self.window.status.showMessage(f"Downloaded {', '.join(prepared.downloaded)}", 8000)
            if self.factory is not None:  # the search paused for the download resumes
                self._swap_services()
        self.start_indexing()

    def _on_models_failed(self, failure: ModelUnavailable) -> None:
        """Say what failed and what to do, and carry on with a model that works."""
        if self._quitting:
            return
        self._downloading = False
        starter = failure.kind == "embedding" and not is_starter(self.settings)
        if failure.kind == "embedding" and not starter:
            outcome = "The bundled starter model could not be used either."
        elif starter:
            outcome = f"Quarry uses the bundled starter model ({starter_description()}) for now."
        else:
            outcome = "Search continues without reranking."
        self.model_message = self._notice(
            QMessageBox.Icon.Information,
            "Quarry: model unavailable",
            f"Quarry could not use {failure.spec or 'the default model'}.\n\n{failure}\n\n"
            f"{outcome} To use it later, get it as described above, then choose it again "
            "in Settings.",
        )
        if failure.kind == "embedding" and not starter:
            self.window.status.showMessage(f"No usable model: {failure.spec}", 15000)
            return
        self.apply_settings(fallback_settings(self.settings, failure))
        what = "the bundled starter model" if starter else "no reranker"
        self.window.status.showMessage(f"{failure.spec} unavailable: using {what}", 15000)

    # -- problem files ------------------------------------------------------------------
    def load_problems(self) -> None:
        """Read the problem list off the main thread; the count shows in the status bar."""
        if self.indexing is None:
            return
        self.tasks.call(self.indexing.backend.problems, self._on_problems, self._problems_failed)

    def _problems_failed(self, message: str) -> None:
        self.window.status.showMessage(f"Could not list the problem files: {message}", 10000)

    def show_problems(self) -> ProblemsDialog:
        """Open the problem files dialog; Retry queues the files and restarts indexing."""
        if self.problems_dialog is None:
            self.problems_dialog = ProblemsDialog(self.window)
            self.problems_dialog.retry_requested.connect(self.retry)
        self.load_problems()
        self.problems_dialog.show()
        return self.problems_dialog

    def retry(self, paths: list[str]) -> None:
        """Queue problem files again and run the indexer."""
        if self.indexing is None:
            return
        self.indexing.backend.retry(paths)
        self.window.status.showMessage(f"Retrying {len(paths)} file(s)…", 4000)
        self.start_indexing()

    def _on_problems(self, problems: list[ProblemFile]) -> None:
        self.window.status.set_problem_count(len(problems))
        if self.problems_dialog is not None:
            self.problems_dialog.set_problems(problems)
