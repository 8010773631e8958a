"""First run: pick folders and a model, see what will be downloaded, start indexing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.extract.ocr.engines import available
from app.settings import Settings
from app.ui.folders import FolderList
from app.ui.ocr_settings import ocr_note
from app.ui.suggest import ModelChoice, describe_download, model_choices, speed_note
from engine.calibrate import Measurement

Calibrator = Callable[[Callable[[Measurement], None]], list[Measurement]]

INTRO = (
    "<h2>Welcome to Quarry</h2>"
    "<p>Quarry finds your documents by meaning, entirely on this computer. Pick the folders "
    "to index and a model; indexing runs in the background and search works as soon as the "
    "first files are in.</p>"
)


def measure_this_computer(on_result: Callable[[Measurement], None]) -> list[Measurement]:
    """Calibrate what can run here: Qwen3-0.6B stand-ins on torch, local copies, the starter."""
    from engine.calibrate import calibrate, candidates_for, proxy_candidates
    from engine.resolve import starter_entry, starter_model_path

    todo = proxy_candidates("Qwen/Qwen3-Embedding-0.6B")
    starter, entry = starter_model_path(), starter_entry()
    if starter is not None and entry is not None:
        todo += candidates_for(entry.model_id, [str(starter)])
    return calibrate(todo, seconds=3.0, on_result=on_result)


class _CalibrationRelay(QObject):
    """Carries results from the calibration thread to the dialog (parentless: outlives it)."""

    measured = Signal(object)  # Measurement
    finished = Signal(object)  # list[Measurement]
    failed = Signal(str)


class WelcomeDialog(QDialog):
    """Returns the first-run choices as settings via ``result_settings()``."""

    def __init__(
        self,
        settings: Settings,
        choices: list[ModelChoice] | None = None,
        parent: QWidget | None = None,
        calibrator: Calibrator = measure_this_computer,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Quarry")
        self.resize(620, 560)
        self._settings = settings
        self._calibrator = calibrator
        self._relay: _CalibrationRelay | None = None
        self.choices = choices if choices is not None else model_choices()
        self.folders = FolderList(settings.folders)
        self.download = QLabel(wordWrap=True)
        self.group = QButtonGroup(self)
        self.choice_box = QVBoxLayout()
        self.measure_button = QPushButton("Measure this computer")
        self.measure_button.setToolTip(
            "Time each way this install can run the model (a few seconds each) and suggest "
            "the fastest; remembered for this computer."
        )
        self.measure_button.clicked.connect(self.measure)
        self.measure_status = QLabel(wordWrap=True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(INTRO, wordWrap=True))
        layout.addWidget(QLabel("<b>Folders to index</b>"))
        layout.addWidget(self.folders)
        layout.addLayout(self.folders.button_row(self.add_folder))
        layout.addWidget(QLabel("<b>Model</b>"))
        layout.addLayout(self.choice_box)
        layout.addWidget(self.measure_button)
        layout.addWidget(self.measure_status)
        self._show_choices()
        layout.addWidget(self.download)
        # OCR stays off unless chosen here: slow, and it may need an engine installed.
        self.ocr = QCheckBox("Also read scanned PDFs and photos of documents (OCR)")
        self.ocr.setChecked(settings.ocr_enabled)
        self.ocr_note = QLabel(f"<small>{ocr_note(available())}</small>", wordWrap=True)
        layout.addWidget(self.ocr)
        layout.addWidget(self.ocr_note)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton(
            "Start indexing", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.group.idToggled.connect(self._update_download)
        self._update_download()

    def _show_choices(self) -> None:
        """(Re)build one radio button per choice; the suggested one checked."""
        while self.choice_box.count():
            item = self.choice_box.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                self.group.removeButton(widget) if isinstance(widget, QRadioButton) else None
                widget.deleteLater()
        for i, choice in enumerate(self.choices):
            suffix = "  (suggested)" if choice.recommended else ""
            radio = QRadioButton(f"{choice.label}{suffix}")
            radio.setToolTip(choice.note)
            radio.setEnabled(choice.available)
            self.group.addButton(radio, i)
            self.choice_box.addWidget(radio)
            detail = " · ".join(filter(None, [choice.note, speed_note(choice)]))
            self.choice_box.addWidget(QLabel(f"<small>{detail}</small>", wordWrap=True))
        pick = next((i for i, c in enumerate(self.choices) if c.recommended), 0)
        if self.group.button(pick) is not None:
            self.group.button(pick).setChecked(True)

    def measure(self) -> None:
        """Calibrate in the background; results re-rank the choices when they are in."""
        if self._relay is not None:
            return
        relay = _CalibrationRelay()
        relay.measured.connect(self._measured_one)
        relay.finished.connect(self._measured_all)
        relay.failed.connect(self._measure_failed)
        self._relay = relay
        self.measure_button.setEnabled(False)
        self.measure_status.setText("Measuring… (a few seconds per option)")

        def work() -> None:
            try:
                relay.finished.emit(self._calibrator(relay.measured.emit))
            except Exception as exc:  # shown in the dialog, never only logged
                relay.failed.emit(f"{type(exc).__name__}: {exc}")

        threading.Thread(target=work, name="calibrate", daemon=True).start()

    def _measured_one(self, result: Measurement) -> None:
        self.measure_status.setText(f"Measured {result.describe()}")

    def _measured_all(self, results: list[Measurement]) -> None:
        self._relay = None
        self.measure_button.setEnabled(True)
        self.choices = model_choices(measured=results)
        lines = [r.describe() for r in results]
        self.measure_status.setText("<br>".join(lines) if lines else "Nothing could be measured.")
        self._show_choices()
        self._update_download()

    def _measure_failed(self, message: str) -> None:
        self._relay = None
        self.measure_button.setEnabled(True)
        self.measure_status.setText(f"Measuring failed: {message}")

    def add_folder(self, folder: str) -> None:
        """Add a folder to index (no duplicates)."""
        self.folders.add_folder(folder)
        self._update_download()

    def folder_list(self) -> list[str]:
        """The folders as listed."""
        return self.folders.folder_list()

    def choice(self) -> ModelChoice | None:
        """The selected model option."""
        index = self.group.checkedId()
        return self.choices[index] if 0 <= index < len(self.choices) else None

    def _update_download(self) -> None:
        choice = self.choice()
        self.download.setText(describe_download(choice) if choice else "")
        # Pressing the button is the consent to download: it says so.
        downloads = choice is not None and choice.download_mb > 0
        self.start_button.setText("Download and start indexing" if downloads else "Start indexing")
        self.start_button.setEnabled(bool(self.folder_list()) and choice is not None)

    def result_settings(self) -> Settings:
        """Settings with the chosen folders and model, marked as past the first run."""
        choice = self.choice()
        updated = replace(self._settings, folders=self.folder_list(), first_run_done=True,
                          ocr_enabled=self.ocr.isChecked())  # fmt: skip
        if choice is not None:
            updated = replace(
                updated,
                embed_model=choice.spec,
                embed_backend=choice.backend,
                device=choice.device,
                precision=choice.dtype,
            )
            if choice.download_mb > 0:  # the button read "Download and start indexing"
                updated = replace(updated, allow_download=True)
        return updated
