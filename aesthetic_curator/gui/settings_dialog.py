"""Model setup: which bundle is in use, what it contains, whether its base weights are here,
and the compute device and solver. The built-in model is the default; the user can switch to a
bundle folder, import the paper authors' checkpoints, or make the test bundle."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aesthetic_curator import model_setup
from aesthetic_curator.builtin_model import builtin_bundle_path, is_builtin
from aesthetic_curator.gui.preferences import Preferences
from aesthetic_curator.gui.tasks import Task, TaskRunner


class SettingsDialog(QDialog):
    def __init__(
        self, preferences: Preferences, parent: QWidget | None = None, runner: TaskRunner | None = None
    ) -> None:
        super().__init__(parent)
        self._runner = runner or TaskRunner()
        self.setWindowTitle("Model setup")
        self.setMinimumWidth(620)
        self.preferences = preferences
        self._bundle_path = preferences.bundle_path
        self._task: Task | None = None
        layout = QVBoxLayout(self)
        self.description = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.description)
        buttons_row = QHBoxLayout()
        self.builtin_button = QPushButton("Use built-in model")
        self.builtin_button.clicked.connect(self._use_builtin)
        self.builtin_button.setEnabled(builtin_bundle_path() is not None)
        self.choose_button = QPushButton("Choose bundle folder…")
        self.choose_button.clicked.connect(self._choose)
        self.import_button = QPushButton("Import authors' checkpoints…")
        self.import_button.setToolTip(
            "A folder of the paper authors' clip_*_3fc_*.pth files becomes a bundle (bundle import-official)"
        )
        self.import_button.clicked.connect(self._import_official)
        self.test_button = QPushButton("Create test bundle")
        self.test_button.clicked.connect(self._create_test_bundle)
        self.download_button = QPushButton("Download base weights")
        self.download_button.clicked.connect(self._download)
        buttons = (self.builtin_button, self.choose_button, self.import_button, self.test_button, self.download_button)
        for button in buttons:
            buttons_row.addWidget(button)
        layout.addLayout(buttons_row)
        self.progress = QProgressBar(visible=False)
        layout.addWidget(self.progress)
        form = QFormLayout()
        self.device = QComboBox()
        for label, value in (("Automatic (GPU when there is one)", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda")):
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(preferences.device)))
        form.addRow("Compute device", self.device)
        self.solver = QComboBox()
        for name, label in model_setup.solver_choices().items():
            self.solver.addItem(label, name)
        self.solver.setCurrentIndex(max(0, self.solver.findData(preferences.solver)))
        form.addRow("Personalization solver", self.solver)
        layout.addLayout(form)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self._refresh()

    def _refresh(self) -> None:
        description = model_setup.describe_bundle(self._bundle_path)
        self.description.setText(description.text)
        self.download_button.setVisible(description.needs_download)
        self.builtin_button.setVisible(not is_builtin(self._bundle_path))
        self._fit_text()

    def _fit_text(self) -> None:
        """Grow the dialog to the wrapped description: a word-wrapped label reports the height it
        needs at its narrow preferred width, so without this a long description is cut off."""
        width = max(self.description.width(), self.minimumWidth() - 24)
        self.description.setMinimumHeight(self.description.heightForWidth(width))
        self.layout().activate()
        self.resize(max(self.width(), self.minimumWidth()), self.sizeHint().height())

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Bundle folder", str(self._bundle_path or Path.home()))
        if folder:
            self._bundle_path = Path(folder)
            self._refresh()

    def _use_builtin(self) -> None:
        self._bundle_path = builtin_bundle_path()
        self._refresh()

    def _import_official(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the authors' .pth checkpoints", str(Path.home()))
        if not folder:
            return
        source = Path(folder)

        def job(progress, cancel):
            return model_setup.import_official_checkpoints(source, progress, cancel)

        def done(path: Path) -> None:
            self._bundle_path = path
            self._refresh()

        self._run("import", job, done)

    def _run(self, name: str, job, on_done) -> None:
        self._task = self._runner.create(name, job, self)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self._task.progress.connect(self._on_progress)
        self._task.finished.connect(on_done)
        self._task.failed.connect(lambda message: QMessageBox.warning(self, "Model setup", message))
        self._task.done.connect(lambda: self.progress.setVisible(False))
        self._task.start()

    def _on_progress(self, progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        self.progress.setFormat(f"{progress.stage}: %p%")

    def _create_test_bundle(self) -> None:
        def job(progress, cancel):
            return model_setup.create_test_bundle(progress, cancel)

        def done(path: Path) -> None:
            self._bundle_path = path
            self._refresh()

        self._run("test bundle", job, done)

    def _download(self) -> None:
        bundle_path = self._bundle_path

        def job(progress, cancel):
            model_setup.download_base_weights(bundle_path, progress, cancel)

        self._run("download", job, lambda _: self._refresh())

    def accept(self) -> None:
        if self._task is not None and self._task.is_running():
            self._task.cancel()
            self._task.wait()
        self.preferences.bundle_path = self._bundle_path
        self.preferences.device = self.device.currentData()
        self.preferences.solver = self.solver.currentData()
        self.preferences.sync()
        super().accept()

    def reject(self) -> None:
        if self._task is not None and self._task.is_running():
            self._task.cancel()
            self._task.wait()
        super().reject()
