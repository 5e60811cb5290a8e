"""Lazy thumbnails for the grid: made on a thread pool only for photos the view asks for.

The view asks for the photos it paints, so opening a 20,000-photo album decodes only what is on
screen; everything else fills in as the user scrolls. Finished images come back through a
signal and are kept in a bounded least-recently-used cache of pixmaps.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from aesthetic_curator.library.thumbnails import ThumbnailCache, ThumbnailRequest


class _Signals(QObject):
    ready = Signal(int, QImage, str)  # photo id, image, why it cannot be decoded ("" when it can)


class _Job(QRunnable):
    def __init__(self, cache: ThumbnailCache, photo_id: int, request: ThumbnailRequest, signals: _Signals) -> None:
        super().__init__()
        self.cache, self.photo_id, self.request, self.signals = cache, photo_id, request, signals

    def run(self) -> None:
        thumb = self.cache.get(self.request)
        self.signals.ready.emit(
            self.photo_id, QImage(str(thumb.path)), "" if thumb.ok else (thumb.reason or "unreadable")
        )


class ThumbnailLoader(QObject):
    """Pixmaps by photo id: cached, or requested once and announced through ``loaded``."""

    loaded = Signal(int)  # photo id

    def __init__(self, cache: ThumbnailCache, max_pixmaps: int = 3000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.max_pixmaps = max_pixmaps
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(2, QThreadPool.globalInstance().maxThreadCount() // 2))
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._pending: set[int] = set()
        self.unreadable: set[int] = set()
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)

    def pixmap(self, photo_id: int, request: ThumbnailRequest) -> QPixmap | None:
        """The thumbnail if it is ready; otherwise ``None`` and it is made in the background."""
        found = self._pixmaps.get(photo_id)
        if found is not None:
            self._pixmaps.move_to_end(photo_id)
            return found
        if photo_id not in self._pending:
            self._pending.add(photo_id)
            self.pool.start(_Job(self.cache, photo_id, request, self._signals))
        return None

    def clear(self) -> None:
        self.pool.clear()
        self._pixmaps.clear()
        self._pending.clear()
        self.unreadable.clear()

    def wait(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(10_000)

    def _on_ready(self, photo_id: int, image: QImage, problem: str) -> None:
        self._pending.discard(photo_id)
        if problem:
            self.unreadable.add(photo_id)
        self._pixmaps[photo_id] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self.max_pixmaps:
            self._pixmaps.popitem(last=False)
        self.loaded.emit(photo_id)
