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

from aesthetic_curator.builtin_model import builtin_bundle_path, is_builtin
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.gui.preferences import Preferences
from aesthetic_curator.gui.tasks import BackgroundTask
from aesthetic_curator.paths import data_dir

NO_BUNDLE_HELP = (
    "No model bundle is set up (this installation lacks the built-in model), so Personalize and Rank "
    "are unavailable. Browsing, rating and exporting by your own stars work without one.\n\n"
    "To get a bundle: choose a bundle folder you built or were given (see docs/bundles.md: "
    "`aesthetic-curator bundle …`), import the paper authors' checkpoints, or create the small test "
    "bundle to try the app (it knows nothing about real photos)."
)


def describe_bundle(path: Path | None) -> tuple[str, object | None]:
    """Readable description of the bundle at ``path`` and the loaded bundle (None when unusable)."""
    if path is None:
        return NO_BUNDLE_HELP, None
    from aesthetic_curator.engine import Bundle
    from aesthetic_curator.engine.base_weights import base_weights_status

    try:
        bundle = Bundle.load(path)
    except CuratorError as exc:
        return f"The bundle at {path} cannot be used: {exc}\n\nChoose another bundle folder.", None
    info = bundle.summary()
    tasks = ", ".join(t["name"] for t in info["tasks"])
    lines = []
    if bundle.is_builtin:
        lines += ["Built-in model: it ships with the app and works offline, nothing to set up.", info["description"]]
    lines += [
        f"Folder: {info['path']}",
        f"Base model: {info['base_model']} ({info['pretrained']})",
        f"Tasks ({len(info['tasks'])}): {tasks}",
        f"Coefficients learned per profile: {info['coefficients']}",
        f"Base weights: {base_weights_status(bundle.spec).description}",
    ]
    if info["is_test_bundle"]:
        lines.append("TEST BUNDLE: a tiny model for trying the app; it knows nothing about real photographic taste.")
    return "\n".join(lines), bundle


class SettingsDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model setup")
        self.setMinimumWidth(620)
        self.preferences = preferences
        self._bundle_path = preferences.bundle_path
        self._task: BackgroundTask | None = None
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
        self.solver.addItem("Fast (damped Gauss–Newton, seconds to minutes)", "fast")
        self.solver.addItem("Paper recipe (500 AdamW steps, the reference; slow on a CPU)", "paper")
        self.solver.setCurrentIndex(max(0, self.solver.findData(preferences.solver)))
        form.addRow("Personalization solver", self.solver)
        layout.addLayout(form)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self._refresh()

    def _refresh(self) -> None:
        text, bundle = describe_bundle(self._bundle_path)
        self.description.setText(text)
        from aesthetic_curator.engine.base_weights import base_weights_status

        status = base_weights_status(bundle.spec) if bundle is not None else None
        self.download_button.setVisible(bool(status and status.needed and not status.cached))
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
        from aesthetic_curator.engine.official_import import import_official

        source = Path(folder)
        target = data_dir() / "bundles" / f"imported-{source.name or 'checkpoints'}"

        def job(progress, cancel):
            import_official(source, target, overwrite=True, progress=progress, cancel=cancel)
            return target

        def done(path: Path) -> None:
            self._bundle_path = path
            self._refresh()

        self._run("import", job, done)

    def _run(self, name: str, job, on_done) -> None:
        self._task = BackgroundTask(name, job, self)
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
        from aesthetic_curator.engine.test_bundle import make_test_bundle

        target = data_dir() / "bundles" / "test-bundle"

        def job(progress, cancel):
            make_test_bundle(target, overwrite=True, progress=progress, cancel=cancel)
            return target

        def done(path: Path) -> None:
            self._bundle_path = path
            self._refresh()

        self._run("test bundle", job, done)

    def _download(self) -> None:
        from aesthetic_curator.engine import Bundle
        from aesthetic_curator.engine.base_weights import download_base_weights

        spec = Bundle.load(self._bundle_path).spec

        def job(progress, cancel):
            download_base_weights(spec, progress, cancel)

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
