"""Full photos decoded off the UI thread, for the views that show them large (loupe, compare).

Decoding a camera JPEG takes a noticeable fraction of a second, so it happens on a small thread pool
(reduced-scale decode to about the screen size, or the full photo for a 1:1 view) and the result arrives
as a signal with a QImage, which, unlike a QPixmap, may be made outside the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.images import decode_image_scaled
from aesthetic_curator.shooting_details import shooting_details

#: QThreadPool priority of a full decode: a zoom asked for goes ahead of the photos decoded in advance.
FULL_DECODE_PRIORITY = 2


@dataclass(frozen=True)
class DecodedPhoto:
    """A decode's outcome, delivered on the UI thread."""

    path: str
    image: QImage  # null when ``error``
    scale: float  # pixels of the full decode per pixel of ``image`` (1.0: a full decode)
    error: str = ""  # why it cannot be shown
    details: str = ""  # its shooting details (shooting_details), read with a reduced decode


class _Signals(QObject):
    ready = Signal(object)  # DecodedPhoto


class _DecodeJob(QRunnable):
    def __init__(self, path: Path, min_size: int | None, signals: _Signals) -> None:
        super().__init__()
        self.path, self.min_size, self.signals = path, min_size, signals

    def run(self) -> None:
        try:
            image, scale = decode_image_scaled(self.path, min_size=self.min_size)
        except ImageDecodeError as exc:
            self.signals.ready.emit(DecodedPhoto(str(self.path), QImage(), 1.0, str(exc)))
            return
        data = image.tobytes("raw", "RGB")
        qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()
        details = shooting_details(self.path) if self.min_size is not None else ""
        self.signals.ready.emit(DecodedPhoto(str(self.path), qimage, scale, details=details))


class PhotoDecoder(QObject):
    """``request(path, size)``; ``decoded(DecodedPhoto)`` follows on the UI thread."""

    decoded = Signal(object)  # DecodedPhoto

    def __init__(self, threads: int = 1, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._signals = _Signals()
        self._signals.ready.connect(self.decoded)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)

    def request(self, path: Path, min_size: int | None, priority: int = 0) -> None:
        """Decode ``path`` with its shorter side at least ``min_size`` (None: every pixel, for 1:1); a higher
        ``priority`` starts before queued requests."""
        self._pool.start(_DecodeJob(path, min_size, self._signals), priority)

    def drop_pending(self) -> None:
        """Forget requests not started yet (the user moved on)."""
        self._pool.clear()

    def wait(self, msecs: int = 5000) -> None:
        self._pool.clear()
        self._pool.waitForDone(msecs)
