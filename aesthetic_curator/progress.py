"""Progress reporting and cancellation for long work, free of any UI toolkit.

Engine and library functions take an optional ``progress`` callback and an optional
:class:`CancelToken`; the CLI adapts them to progress bars, the GUI to Qt signals.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from aesthetic_curator.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units of ``stage``; ``loss`` when training."""

    stage: str
    done: int
    total: int
    loss: float | None = None


ProgressCallback = Callable[[Progress], None]
Item = TypeVar("Item")
Result = TypeVar("Result")


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


def map_in_chunks(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    stage: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    chunk_size: int = 64,
    workers: int | None = None,
) -> Iterator[tuple[Sequence[Item], list[Result]]]:
    """``function`` over ``items`` on a few threads, yielding each chunk with its results in order, so the
    caller can keep what is done (a library write per chunk) before a cancel lands between chunks.

    For per-photo work that is not torch math (Pillow and numpy release the GIL; torch's own threads would
    fight the pool's). One pool for the whole run; progress after each chunk."""
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        for start in range(0, len(items), chunk_size):
            check(cancel)
            chunk = items[start : start + chunk_size]
            results = list(pool.map(function, chunk))
            yield chunk, results
            report(progress, stage, start + len(chunk), len(items))
