"""The status bar's view of the running task: its name and stage, a progress bar and a Cancel button.

Most tasks have one stage whose count fills the bar. A personalization has several (loading the rated
photos, the tasks' zero-shot scores, the solver's passes, the agreement folds, the top's tuning) whose
counts would each run the bar to the end and back; its bar follows the time measured before it started
(the estimate the window showed) instead, with the time left, and the stage stays in the words.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer
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
        controller.estimated.connect(self._estimated)
        self._then: list[str] = []  # tasks waiting for the running one, as the label says
        self._expected: float | None = None  # seconds the next personalization should take (its estimate)
        self._timed: float | None = None  # those of the running one: its bar follows the clock
        self._words = ""  # the running task's stage, as last reported
        self._clock = QTimer(self, interval=250)
        self._clock.timeout.connect(self._tick)

    def _estimated(self, estimate) -> None:
        self._expected = estimate.seconds

    def _queued(self, name: str) -> None:
        self._then = [*(waiting for waiting in self._then if waiting != name), name]
        task = self.controller.task
        self.label.setText(f"{task.name.capitalize()}…{self._then_text()}" if task is not None else "")

    def _then_text(self) -> str:
        return f" · then {', '.join(self._then)}" if self._then else ""

    def _started(self, name: str) -> None:
        self._then = [waiting for waiting in self._then if waiting != name]
        self._words = f"{name.capitalize()}…"
        self.label.setText(self._words + self._then_text())
        self.bar.setRange(0, 0)
        self._timed = self._expected if name == "personalize" and self._expected else None
        self._expected = None
        if self._timed is not None:
            self.bar.setRange(0, 1000)
            self._clock.start()
        else:
            self._clock.stop()
        self.bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)

    def _progress(self, progress: Progress) -> None:
        task = self.controller.task
        if task is None:
            return
        if progress.total and self._timed is None:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.done)
        text = f"{task.name.capitalize()}: {progress.stage} {progress.done}/{progress.total}"
        if progress.loss is not None:
            text += f" · loss {progress.loss:.3f}"
        if task.name == "rank" and progress.stage == "ranking" and progress.done:
            elapsed = max(1e-6, time.monotonic() - task.started_at)
            text += f" · {progress.done / elapsed:.1f} photos/s"
        self._words = text
        self._tick()

    def _tick(self) -> None:
        """The label (stage, time left) and, for a timed task, the bar: near the end, never at it, until done."""
        task, left = self.controller.task, ""
        if self._timed is not None and task is not None:
            elapsed = time.monotonic() - task.started_at
            self.bar.setValue(min(990, int(1000 * elapsed / self._timed)))
            remaining = self._timed - elapsed
            if remaining >= 1:
                left = f" · about {human_duration(remaining)} left"
            else:
                left = " · nearly done" if remaining > -0.25 * self._timed else " · longer than estimated"
        self.label.setText(self._words + left + self._then_text())

    def _ended(self) -> None:
        if not self.controller.is_busy():
            self._clock.stop()
            self._then, self._timed = [], None
            self.bar.setVisible(False)
            self.cancel_button.setVisible(False)
            self.label.setText("")

    def cancelling(self, name: str) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText(f"Cancelling {name}…")


def human_duration(seconds: float) -> str:
    """ "12 s", "3 min", "1.5 h": how a person says a wait."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
