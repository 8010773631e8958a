"""First run: pick folders and a model, see what will be downloaded, start indexing."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.settings import Settings
from app.ui.folders import FolderList
from app.ui.suggest import ModelChoice, describe_download, model_choices

INTRO = (
    "<h2>Welcome to Quarry</h2>"
    "<p>Quarry finds your documents by meaning, entirely on this computer. Pick the folders "
    "to index and a model; indexing runs in the background and search works as soon as the "
    "first files are in.</p>"
)


class WelcomeDialog(QDialog):
    """Returns the first-run choices as settings via ``result_settings()``."""

    def __init__(
        self,
        settings: Settings,
        choices: list[ModelChoice] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Quarry")
        self.resize(620, 520)
        self._settings = settings
        self.choices = choices if choices is not None else model_choices()
        self.folders = FolderList(settings.folders)
        self.download = QLabel(wordWrap=True)
        self.group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(INTRO, wordWrap=True))
        layout.addWidget(QLabel("<b>Folders to index</b>"))
        layout.addWidget(self.folders)
        layout.addLayout(self.folders.button_row(self.add_folder))
        layout.addWidget(QLabel("<b>Model</b>"))
        for i, choice in enumerate(self.choices):
            radio = QRadioButton(f"{choice.label}{'  (suggested)' if choice.recommended else ''}")
            radio.setToolTip(choice.note)
            self.group.addButton(radio, i)
            layout.addWidget(radio)
            layout.addWidget(QLabel(f"<small>{choice.note}</small>"))
        layout.addWidget(self.download)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton(
            "Start indexing", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.group.idToggled.connect(self._update_download)
        if self.group.buttons():
            self.group.buttons()[0].setChecked(True)
        self._update_download()

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
        updated = replace(self._settings, folders=self.folder_list(), first_run_done=True)
        if choice is not None:
            updated = replace(updated, embed_model=choice.spec, embed_backend=choice.backend)
            if choice.download_mb > 0:  # the button read "Download and start indexing"
                updated = replace(updated, allow_download=True)
        return updated
