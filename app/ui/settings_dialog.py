"""The settings dialog: folders and rules, model, dimension, instruction presets, reranker.

It edits a copy of ``Settings`` and hands the result back; the controller saves it and emits
``settings_changed`` so changes apply without a restart where possible.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.download import language_reach
from app.settings import Settings
from app.ui.combo import current_data
from app.ui.folders import FolderList
from app.ui.ocr_settings import OcrSettings
from app.ui.presets import default_presets
from engine.config import BACKENDS, DEVICES, DTYPES

if TYPE_CHECKING:
    from engine.registry import RegistryEntry

DIMENSION_NOTE = (
    "Changing the dimension rebuilds the index in the background. Search keeps working on "
    "the current index until the new one is ready, then switches over."
)


def model_entry(model: str) -> RegistryEntry | None:
    """The registry entry of ``model``, or of the model used when it is empty; None if unknown."""
    try:
        registry = importlib.import_module("engine.registry")
        resolve = importlib.import_module("engine.resolve")
        spec = model.strip() or resolve.default_embedding_spec()[0]
        # "Org/Name-GGUF:Q8_0" has the dimensions of "Org/Name"
        entry: RegistryEntry | None = registry.lookup(spec.partition(":")[0].removesuffix("-GGUF"))
        return entry if entry is not None else resolve.resolve(spec).entry
    except Exception:  # no engine, or a model not on this computer: a wide guess
        return None


def max_dimension(model: str) -> tuple[int, int]:
    """(min, max) embedding dimension for ``model`` from the registry; a wide guess otherwise."""
    entry = model_entry(model)
    if entry is None:
        return 32, 4096
    return int(entry.min_dim), int(entry.max_dim)


def _combo(values: tuple[str, ...], current: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(values))
    if current not in values:
        combo.addItem(current)
    combo.setCurrentText(current)
    return combo


def _checkbox(text: str, checked: bool) -> QCheckBox:
    box = QCheckBox(text)
    box.setChecked(checked)
    return box


def _placeholder(combo: QComboBox, text: str) -> None:
    edit = combo.lineEdit()
    if edit is not None:
        edit.setPlaceholderText(text)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class SettingsDialog(QDialog):
    """Edits settings; ``result_settings()`` is the edited copy (call after ``accept``)."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quarry settings")
        self.resize(640, 520)
        self._original = settings
        self._presets = default_presets() | dict(settings.custom_presets)
        tabs = QTabWidget()
        tabs.addTab(self._folders_tab(settings), "Folders")
        tabs.addTab(self._model_tab(settings), "Model")
        tabs.addTab(self._presets_tab(settings), "Instructions")
        tabs.addTab(self._rerank_tab(settings), "Reranker")
        tabs.addTab(self._general_tab(settings), "General")
        self.tabs = tabs
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(buttons)

    # -- tabs ---------------------------------------------------------------------------
    def _folders_tab(self, s: Settings) -> QWidget:
        self.folders = FolderList(s.folders)
        self.include = QPlainTextEdit("\n".join(s.include))
        self.exclude = QPlainTextEdit("\n".join(s.exclude))
        self.max_file_mb = QDoubleSpinBox(minimum=0.1, maximum=100_000, value=s.max_file_mb)
        self.follow_symlinks = _checkbox("Follow symbolic links", s.follow_symlinks)
        self.ocr = OcrSettings(s)
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Watched folders", self.folders)
        form.addRow("", self._wrap(self.folders.button_row(self.add_folder)))
        form.addRow("Include (one glob a line)", self.include)
        form.addRow("Exclude (one glob a line)", self.exclude)
        form.addRow("Skip files larger than (MB)", self.max_file_mb)
        form.addRow("", self.follow_symlinks)
        form.addRow("OCR", self.ocr)
        return page

    def _model_tab(self, s: Settings) -> QWidget:
        self.model = QComboBox(editable=True)
        self.model.addItems(self._known_models("embedding"))
        self._add_bundled_models()
        self.model.setCurrentText(s.embed_model)
        _placeholder(self.model, "automatic: a Qwen3 model if present, else starter")
        self.backend = _combo(BACKENDS, s.embed_backend)
        self.device = _combo(DEVICES, s.device)
        self.precision = _combo(DTYPES, s.precision)
        self.dimension = QSpinBox()
        self.dimension.setSuffix(" dimensions")
        self._set_dimension_range(s.embed_model, s.dimension)
        self.model.currentTextChanged.connect(
            lambda text: self._set_dimension_range(text, self.dimension_value())
        )
        note = QLabel(DIMENSION_NOTE, wordWrap=True)
        note.setObjectName("dimensionNote")
        self.allow_download = _checkbox(
            "Allow downloading missing models from the Hugging Face hub", s.allow_download
        )
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Embedding model", self.model)
        form.addRow("Backend", self.backend)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Embedding dimension", self.dimension)
        form.addRow("", note)
        form.addRow("", self.allow_download)
        return page

    def _presets_tab(self, s: Settings) -> QWidget:
        self.preset_list = QListWidget()
        self.preset_text = QPlainTextEdit()
        self.preset_text.setPlaceholderText("Task description, in English, e.g. 'Given a ...'")
        self.query_preset = QComboBox()
        add = QPushButton("Add")
        reset = QPushButton("Reset to defaults")
        add.clicked.connect(lambda: self.add_preset(self._new_preset_name(), ""))
        reset.clicked.connect(self.reset_presets)
        self.preset_list.currentTextChanged.connect(self._show_preset)
        self.preset_text.textChanged.connect(self._store_preset)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(reset)
        row.addStretch(1)
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Presets", self.preset_list)
        form.addRow("Task", self.preset_text)
        form.addRow("", self._wrap(row))
        form.addRow("Default for queries", self.query_preset)
        form.addRow(
            "",
            QLabel(
                "Query instructions can change at any time: documents are embedded without "
                "one, so nothing is re-indexed.",
                wordWrap=True,
            ),
        )
        self._refresh_presets(s.query_preset)
        return page

    def _rerank_tab(self, s: Settings) -> QWidget:
        self.rerank_enabled = _checkbox("Rerank the top results", s.rerank_enabled)
        self.rerank_model = QComboBox(editable=True)
        self.rerank_model.addItems(self._known_models("reranker"))
        self.rerank_model.setCurrentText(s.rerank_model)
        _placeholder(self.rerank_model, "automatic: a Qwen3 reranker if present")
        self.rerank_depth = QSpinBox(minimum=0, maximum=500, value=s.rerank_depth)
        self.rerank_depth.setSpecialValueText("automatic (by device)")
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("", self.rerank_enabled)
        form.addRow("Reranker model", self.rerank_model)
        form.addRow("Results to rerank", self.rerank_depth)
        return page

    def _general_tab(self, s: Settings) -> QWidget:
        self.keep_in_tray = _checkbox(
            "Keep indexing in the tray when the window is closed", s.keep_running_in_tray
        )
        self.pause_on_battery = _checkbox(
            "Pause embedding on battery power (keyword indexing goes on)",
            s.pause_embedding_on_battery,
        )
        self.api_server = _checkbox(
            "Let AI assistants and scripts search (HTTP API and MCP on 127.0.0.1, read-only)",
            s.api_server,
        )
        self.api_server.setToolTip(Settings.describe()["api_server"])
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("", self.keep_in_tray)
        form.addRow("", self.pause_on_battery)
        form.addRow("", self.api_server)
        form.addRow("Theme", QLabel("Follows the operating system (light or dark)."))
        return page

    @staticmethod
    def _wrap(layout: QHBoxLayout) -> QWidget:
        widget = QWidget()
        layout.setContentsMargins(0, 0, 0, 0)
        widget.setLayout(layout)
        return widget

    def _add_bundled_models(self) -> None:
        """The starter models this install ships, by folder (what the welcome dialog saves),
        each named in its tooltip."""
        try:
            resolve = importlib.import_module("engine.resolve")
            bundled = resolve.bundled_models()
        except Exception:
            return
        for entry, path in bundled:
            self.model.addItem(str(path))
            tip = f"Bundled starter model {entry.short_name} ({language_reach(entry)})"
            self.model.setItemData(self.model.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)

    @staticmethod
    def _known_models(kind: str) -> list[str]:
        """Qwen3 models to pick from. No blank row (an empty box, shown by its placeholder,
        means automatic) and not the starters' hub names: offline, only the bundled copies
        load (the welcome dialog offers them), and the automatic choice falls back to them."""
        try:
            registry = importlib.import_module("engine.registry")
            return [
                e.model_id
                for e in registry.MODELS.values()
                if e.kind == kind and e.family == "qwen3"
            ]
        except Exception:
            return []

    # -- folders ------------------------------------------------------------------------
    def add_folder(self, folder: str) -> None:
        """Add a watched folder (no duplicates)."""
        self.folders.add_folder(folder)

    def remove_folder(self, row: int) -> None:
        """Stop watching the folder at ``row``."""
        self.folders.remove_folder(row)

    def folder_list(self) -> list[str]:
        """Folders as currently listed."""
        return self.folders.folder_list()

    # -- dimension ----------------------------------------------------------------------
    def _set_dimension_range(self, model: str, value: int) -> None:
        """Offer only what the model can give; one fixed size disables the box, saying why."""
        low, high = max_dimension(model)
        self.dimension.setRange(low, high)
        self.dimension.setValue(high if value <= 0 else min(max(value, low), high))
        fixed = low == high
        self.dimension.setEnabled(not fixed)
        self.dimension.setToolTip(
            f"This model gives {high}-dimensional vectors only: it was not trained for shorter "
            "ones (Qwen3 models can be shortened)."
            if fixed
            else f"From {low} to {high} for this model."
        )

    def dimension_value(self) -> int:
        """The chosen dimension; 0 ("the model's full size") when the maximum is chosen."""
        value = self.dimension.value()
        return 0 if value >= self.dimension.maximum() else value

    # -- presets ------------------------------------------------------------------------
    def presets(self) -> dict[str, str]:
        """All presets as edited (built-ins and the user's)."""
        return dict(self._presets)

    def add_preset(self, name: str, task: str) -> None:
        """Add (or replace) a preset and select it for editing."""
        self._presets[name] = task
        self._refresh_presets(current_data(self.query_preset) or name)
        self.preset_list.setCurrentRow(list(self._presets).index(name))

    def set_preset_task(self, name: str, task: str) -> None:
        """Edit a preset's task text."""
        self.preset_list.setCurrentRow(list(self._presets).index(name))
        self.preset_text.setPlainText(task)

    def reset_presets(self) -> None:
        """Drop every user preset and edit; the query preset falls back if it disappears."""
        self._presets = default_presets()
        self._refresh_presets(current_data(self.query_preset) or "")

    def _new_preset_name(self) -> str:
        n = 1
        while f"custom_{n}" in self._presets:
            n += 1
        return f"custom_{n}"

    def _refresh_presets(self, selected: str) -> None:
        self.preset_list.blockSignals(True)
        self.preset_list.clear()
        self.preset_list.addItems(list(self._presets))
        self.preset_list.blockSignals(False)
        self.query_preset.clear()
        for name in self._presets:
            self.query_preset.addItem(name.replace("_", " "), name)
        self.query_preset.setCurrentIndex(max(0, self.query_preset.findData(selected)))
        self.preset_text.blockSignals(True)
        self.preset_text.clear()
        self.preset_text.blockSignals(False)

    def _show_preset(self, name: str) -> None:
        self.preset_text.blockSignals(True)
        self.preset_text.setPlainText(self._presets.get(name, ""))
        self.preset_text.blockSignals(False)

    def _store_preset(self) -> None:
        item = self.preset_list.currentItem()
        if item is not None:
            self._presets[item.text()] = self.preset_text.toPlainText().strip()

    # -- downloads ----------------------------------------------------------------------
    def models_to_download(self) -> list[str]:
        """Newly chosen models that are neither on disk nor in the HF cache."""
        chosen = [
            (self.model.currentText().strip(), self._original.embed_model),
            (self.rerank_model.currentText().strip(), self._original.rerank_model),
        ]
        try:
            download = importlib.import_module("app.download")
            return [new for new, old in chosen if new != old and download.needs_download(new)]
        except Exception:  # no engine to ask: the model check after saving will say
            return []

    def confirm_download(self, specs: list[str]) -> bool:
        """Ask before anything goes online; True when the user agrees."""
        answer = QMessageBox.question(
            self,
            "Download models?",
            f"{', '.join(specs)} {'is' if len(specs) == 1 else 'are'} not on this computer. "
            "Download from the Hugging Face hub now? Progress shows in the status bar; if the "
            "download fails, Quarry keeps working with the bundled starter model.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def accept(self) -> None:
        """Save; a newly chosen model that must be downloaded needs consent first."""
        missing = self.models_to_download()
        if missing and not self.allow_download.isChecked():
            if not self.confirm_download(missing):
                return  # stay open: pick another model, or agree
            self.allow_download.setChecked(True)
        super().accept()

    # -- result -------------------------------------------------------------------------
    def result_settings(self) -> Settings:
        """The edited settings; user presets are those that differ from the defaults."""
        defaults = default_presets()
        custom = {k: v for k, v in self._presets.items() if defaults.get(k) != v and v}
        edited = replace(
            self._original,
            folders=self.folder_list(),
            include=_lines(self.include.toPlainText()) or ["**/*"],
            exclude=_lines(self.exclude.toPlainText()),
            max_file_mb=float(self.max_file_mb.value()),
            follow_symlinks=self.follow_symlinks.isChecked(),
            embed_model=self.model.currentText().strip(),
            embed_backend=self.backend.currentText(),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            dimension=self.dimension_value(),
            query_preset=current_data(self.query_preset) or "web_search",
            custom_presets=custom,
            rerank_enabled=self.rerank_enabled.isChecked(),
            rerank_model=self.rerank_model.currentText().strip(),
            rerank_depth=self.rerank_depth.value(),
            keep_running_in_tray=self.keep_in_tray.isChecked(),
            pause_embedding_on_battery=self.pause_on_battery.isChecked(),
            api_server=self.api_server.isChecked(),
            allow_download=self.allow_download.isChecked(),
        )
        return self.ocr.apply(edited)
