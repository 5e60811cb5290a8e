"""Progress reporting and cancellation for long work, free of any UI toolkit.

Engine and library functions take an optional ``progress`` callback and an optional
:class:`CancelToken`; the CLI adapts them to progress bars, the GUI to Qt signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from aesthetic_curator.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units of ``stage``; ``loss`` when training."""

    stage: str
    done: int
    total: int
    loss: float | None = None


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """A thread-safe flag the UI sets and the worker checks between small units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def report(callback: ProgressCallback | None, stage: str, done: int, total: int, loss: float | None = None) -> None:
    """Call ``callback`` if there is one; keeps call sites free of ``if progress`` noise."""
    if callback is not None:
        callback(Progress(stage, done, total, loss))


def check(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` was set; a ``None`` token never cancels."""
    if cancel is not None:
        cancel.check()
