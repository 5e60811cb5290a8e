"""The status bar's task view: a personalization's bar follows its estimate, not each stage's count."""

from __future__ import annotations

import time
from types import SimpleNamespace

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from aesthetic_curator.gui.task_status import TaskStatus, human_duration
from aesthetic_curator.progress import Progress


class _Controller(QObject):
    """The controller's signals and running task, as TaskStatus reads them."""

    task_started = Signal(str)
    task_progress = Signal(object)
    task_ended = Signal()
    task_queued = Signal(str)
    estimated = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.task = None

    def is_busy(self) -> bool:
        return self.task is not None

    def start(self, name: str, seconds_ago: float = 0.0) -> None:
        self.task = SimpleNamespace(name=name, started_at=time.monotonic() - seconds_ago)
        self.task_started.emit(name)


def _status(qtbot):
    controller, label, bar, button = _Controller(), QLabel(), QProgressBar(), QPushButton()
    for widget in (label, bar, button):
        qtbot.addWidget(widget)
    return controller, TaskStatus(controller, label, bar, button), label, bar


def test_a_personalization_bar_follows_its_estimate_through_every_stage(qtbot):
    controller, _, label, bar = _status(qtbot)
    controller.start("estimate")
    controller.estimated.emit(SimpleNamespace(seconds=40.0, device_type="cpu"))
    controller.start("personalize", seconds_ago=10.0)
    controller.task_progress.emit(Progress("loading photos", 20, 20))  # a stage at its end: not the bar's end
    assert bar.maximum() == 1000 and 240 <= bar.value() <= 260
    assert label.text().startswith("Personalize: loading photos 20/20") and "about 30 s left" in label.text()
    controller.task.started_at -= 25.0
    controller.task_progress.emit(Progress("training", 3, 100, loss=0.61))
    assert 860 <= bar.value() <= 880 and "loss 0.610" in label.text() and "about 5 s left" in label.text()
    controller.task.started_at -= 30.0  # far past the estimate: the bar waits just short of the end
    controller.task_progress.emit(Progress("training", 90, 100))
    assert bar.value() == 990 and "longer than estimated" in label.text()
    controller.task = None
    controller.task_ended.emit()
    assert label.text() == "" and bar.isHidden()


def test_other_tasks_fill_the_bar_by_their_count(qtbot):
    controller, _, label, bar = _status(qtbot)
    controller.start("rank")
    controller.task_progress.emit(Progress("ranking", 30, 120))
    assert (bar.maximum(), bar.value()) == (120, 30) and "left" not in label.text()


def test_human_durations():
    assert [human_duration(s) for s in (0.2, 12.4, 200, 7200)] == ["1 s", "12 s", "3 min", "2.0 h"]
