"""The status bar's view of the running task: its name and stage, a progress bar and a Cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from aesthetic_curator.gui.controller import AlbumController
from aesthetic_curator.progress import Progress


class TaskStatus(QObject):
    """Renders the controller's task signals into the status bar's label, progress bar and button."""

    def __init__(
        self,
        controller: AlbumController,
        label: QLabel,
        bar: QProgressBar,
        cancel_button: QPushButton,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller, self.label, self.bar, self.cancel_button = controller, label, bar, cancel_button
        controller.task_started.connect(self._started)
        controller.task_progress.connect(self._progress)
        controller.task_ended.connect(self._ended)
        controller.task_queued.connect(self._queued)
        self._then: list[str] = []  # tasks waiting for the running one, as the label says

    def _queued(self, name: str) -> None:
        self._then = [*(waiting for waiting in self._then if waiting != name), name]
        task = self.controller.task
        self.label.setText(f"{task.name.capitalize()}…{self._then_text()}" if task is not None else "")

    def _then_text(self) -> str:
        return f" · then {', '.join(self._then)}" if self._then else ""

    def _started(self, name: str) -> None:
        self._then = [waiting for waiting in self._then if waiting != name]
        self.label.setText(f"{name.capitalize()}…{self._then_text()}")
        self.bar.setRange(0, 0)
        self.bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)

    def _progress(self, progress: Progress) -> None:
        task = self.controller.task
        if task is None:
            return
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.done)
        text = f"{task.name.capitalize()}: {progress.stage} {progress.done}/{progress.total}"
        if progress.loss is not None:
            text += f" · loss {progress.loss:.3f}"
        if task.name == "rank" and progress.stage == "ranking" and progress.done:
            elapsed = max(1e-6, time.monotonic() - task.started_at)
            text += f" · {progress.done / elapsed:.1f} photos/s"
        self.label.setText(text + self._then_text())

    def _ended(self) -> None:
        if not self.controller.is_busy():
            self._then = []
            self.bar.setVisible(False)
            self.cancel_button.setVisible(False)
            self.label.setText("")

    def cancelling(self, name: str) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText(f"Cancelling {name}…")
