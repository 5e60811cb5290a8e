"""Running long work (scan, personalization, ranking, export, downloads) off the UI thread.

A :class:`BackgroundTask` runs one plain function on its own ``QThread``. The function gets the
core's ``progress`` callback and ``cancel`` token, so nothing in the core knows about Qt; the task
turns progress into a signal and the outcome into ``finished`` / ``failed`` / ``cancelled``.
Signals cross to the UI thread through Qt's queued connections.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from aesthetic_curator.errors import Cancelled, CuratorError
from aesthetic_curator.host_memory import release_freed_memory
from aesthetic_curator.progress import CancelToken, Progress

log = logging.getLogger(__name__)

Job = Callable[..., Any]  # called as job(progress=callback, cancel=token)


class _Runner(QObject):
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, job: Job, cancel: CancelToken) -> None:
        super().__init__()
        self._job, self._cancel = job, cancel
        self._last_report = 0.0

    def _report(self, progress: Progress) -> None:
        now = time.monotonic()  # at most ~20 updates a second reach the UI
        if now - self._last_report >= 0.05 or progress.done >= progress.total:
            self._last_report = now
            self.progress.emit(progress)

    def run(self) -> None:
        try:
            result = self._job(progress=self._report, cancel=self._cancel)
        except Cancelled:
            self.cancelled.emit()
        except CuratorError as exc:
            self.failed.emit(str(exc))
        except MemoryError:
            self.failed.emit("out of memory: close other programs, or use the CPU for smaller work")
        except Exception as exc:  # a bug or an unexpected library error: show it, never crash the window
            log.error("background task failed:\n%s", traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)
        finally:
            release_freed_memory()  # what the job freed goes back to the system, not kept for the next one


class Task(QObject):
    """What every task offers the window: a name, a cancel token and Qt signals for its outcome."""

    progress = Signal(object)  # Progress
    finished = Signal(object)  # the function's return value
    failed = Signal(str)  # a readable message
    cancelled = Signal()
    done = Signal()  # after any of the three above, once the work has stopped

    def __init__(self, name: str, job: Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self.started_at = time.monotonic()
        self.delivered = False  # the outcome reached the UI (a thread may still be winding down)
        self._runner = _Runner(job, self.token)
        for signal in (self._runner.finished, self._runner.failed, self._runner.cancelled):
            signal.connect(self._mark_delivered)
        self._runner.progress.connect(self.progress)
        self._runner.finished.connect(self.finished)
        self._runner.failed.connect(self.failed)
        self._runner.cancelled.connect(self.cancelled)

    def _mark_delivered(self, *_: object) -> None:
        self.delivered = True

    def cancel(self) -> None:
        self.token.cancel()


class BackgroundTask(Task):
    """One function on one worker thread."""

    def __init__(self, name: str, job: Job, parent: QObject | None = None) -> None:
        super().__init__(name, job, parent)
        self._thread = QThread()
        self._thread.setObjectName(f"task-{name}")
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        for signal in (self._runner.finished, self._runner.failed, self._runner.cancelled):
            # Direct: quit from the worker itself, so wait() on the UI thread cannot wait for its own event loop.
            signal.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self.done)

    def is_busy(self) -> bool:
        """Still working: started and its outcome not yet delivered."""
        return self._thread.isRunning() and not self.delivered

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, milliseconds: int = 30_000) -> bool:
        """Block until the thread stops (used when the window closes); False on timeout."""
        return self._thread.wait(milliseconds)


class ImmediateTask(Task):
    """A task that runs its job at ``start()``, on the calling thread.

    For tests (the way Picard's tests swap in a ``FakeThreadPool``): the same signals in the same
    order, so a window's code paths are exercised without waiting on threads.
    """

    def __init__(self, name: str, job: Job, parent: QObject | None = None) -> None:
        super().__init__(name, job, parent)
        self._running = False

    def start(self) -> None:
        self._running = True
        try:
            self._runner.run()
        finally:
            self._running = False
            self.done.emit()

    def is_busy(self) -> bool:
        return self._running and not self.delivered

    def is_running(self) -> bool:
        return self._running

    def wait(self, milliseconds: int = 30_000) -> bool:
        return True


class TaskRunner:
    """Makes the task that runs a job: on its own thread in the app (:class:`BackgroundTask`).

    Injected into the controller and the dialogs, so tests can run jobs at once instead
    (:class:`ImmediateTaskRunner`).
    """

    def create(self, name: str, job: Job, parent: QObject | None = None) -> Task:
        return BackgroundTask(name, job, parent)


class ImmediateTaskRunner(TaskRunner):
    def create(self, name: str, job: Job, parent: QObject | None = None) -> Task:
        return ImmediateTask(name, job, parent)
