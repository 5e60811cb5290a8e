"""Full photos decoded off the UI thread, for the views that show them large (loupe, compare).

Decoding a camera JPEG takes a noticeable fraction of a second, so it happens on a small thread pool
(reduced-scale decode to about the screen size, or the full photo for a 1:1 view) and the result arrives
as a signal with a QImage, which, unlike a QPixmap, may be made outside the UI thread.

:class:`DecodedPhotos` is the cache both views keep: reduced decodes of the photos shown and decoded ahead,
and every pixel of a zoomed photo handed to its view only (a 45 MP decode is 135 MB; the views drop it with
the photo).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.exposure import Histogram, histogram
from aesthetic_curator.gui.zoom_view import ZoomView
from aesthetic_curator.images import decode_image_scaled
from aesthetic_curator.photo_exif import shooting_details

#: QThreadPool priority of a full decode: a zoom asked for goes ahead of the photos decoded in advance.
FULL_DECODE_PRIORITY = 2


@dataclass(frozen=True)
class DecodedPhoto:
    """A decode's outcome, delivered on the UI thread."""

    path: str
    image: QImage  # null when ``error``
    scale: float  # pixels of the full decode per pixel of ``image`` (1.0: a full decode)
    error: str = ""  # why it cannot be shown
    details: str = ""  # its shooting details (photo_exif.shooting_details), read with a reduced decode
    min_size: int | None = None  # the shorter side asked for (None: every pixel)
    histogram: Histogram | None = None  # read with a reduced decode


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
            self.signals.ready.emit(DecodedPhoto(str(self.path), QImage(), 1.0, str(exc), min_size=self.min_size))
            return
        data = image.tobytes("raw", "RGB")
        qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()
        reduced = self.min_size is not None
        details = shooting_details(self.path) if reduced else ""
        levels = histogram(image) if reduced else None
        self.signals.ready.emit(DecodedPhoto(str(self.path), qimage, scale, "", details, self.min_size, levels))


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


class KeptPhoto(NamedTuple):
    """A reduced decode kept for showing at once."""

    pixmap: QPixmap
    scale: float  # pixels of the full decode per pixel of ``pixmap``
    details: str  # shooting details
    histogram: Histogram | None = None


class DecodedPhotos(QObject):
    """Reduced decodes of the photos a view shows or will show next, at its ``fit_size()``: at most ``keep``,
    the oldest not ``wanted()`` dropped first (the wanted ones never); and, on request, every pixel of one for
    a 1:1 view, passed on by ``full_arrived`` and never kept.

    ``arrived(path)`` says the kept entry for ``path`` (a :class:`KeptPhoto` or why it cannot be shown) is new.
    """

    arrived = Signal(str)
    full_arrived = Signal(str, QPixmap)

    def __init__(
        self,
        keep: int,
        fit_size: Callable[[], int],
        wanted: Callable[[], Collection[str]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.keep, self._fit_size, self._wanted = keep, fit_size, wanted
        self._kept: dict[str, KeptPhoto | str] = {}
        self._requested: dict[str, int] = {}  # path -> the size asked for, until it comes
        self._full_requested: set[str] = set()
        self._decoder = PhotoDecoder(2, self)
        self._decoder.decoded.connect(self._on_decoded)

    def get(self, path: str) -> KeptPhoto | str | None:
        return self._kept.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._kept

    def request(self, path: Path, priority: int = 0) -> None:
        """Decode ``path`` at the view's size unless it is kept or on its way."""
        if str(path) not in self._kept and str(path) not in self._requested:
            size = self._fit_size()
            self._requested[str(path)] = size
            self._decoder.request(path, size, priority)

    def request_full(self, path: Path) -> None:
        """Decode every pixel of ``path`` (kept reduced), ahead of everything else, once until it comes."""
        kept = self._kept.get(str(path))
        if isinstance(kept, KeptPhoto) and kept.scale > 1.0 and str(path) not in self._full_requested:
            self._full_requested.add(str(path))
            self._decoder.request(path, None, FULL_DECODE_PRIORITY)

    def ask_full(self, view: ZoomView, path: Path) -> None:
        """Every pixel of ``path`` when ``view`` is zoomed on its reduced decode (ZoomView.wants_full)."""
        if view.wants_full():
            self.request_full(path)

    def show_in(self, view: ZoomView, path: Path) -> None:
        """``path`` in ``view``: its kept decode (and every pixel when zoomed), or why it cannot be shown, or
        "Loading…" while it is decoded."""
        kept = self._kept.get(str(path))
        if isinstance(kept, KeptPhoto):
            view.show_pixmap(kept.pixmap, scale=kept.scale)
            self.ask_full(view, path)
        else:
            view.show_pixmap(QPixmap(), f"Cannot show this photo:\n{kept}" if isinstance(kept, str) else "")
            self.request(path)

    def drop_pending(self) -> None:
        """Forget the requests not started (the user moved on); one already running still arrives."""
        self._decoder.drop_pending()
        self._requested.clear()
        self._full_requested.clear()

    def clear(self) -> None:
        """Forget everything kept too (the view grew: its decodes are too small)."""
        self.drop_pending()
        self._kept.clear()

    def wait(self) -> None:
        self._decoder.wait()

    def _on_decoded(self, photo: DecodedPhoto) -> None:
        path = photo.path
        if photo.min_size is None:  # every pixel: for the view showing it, if still asked for
            if path in self._full_requested:
                self._full_requested.discard(path)
                if not photo.error:
                    self.full_arrived.emit(path, QPixmap.fromImage(photo.image))
            return
        asked_for = self._requested.get(path) == photo.min_size
        if not asked_for and path in self._kept:  # an older request's decode (the view was smaller)
            return
        if asked_for:
            del self._requested[path]
        self._kept.pop(path, None)  # a newer decode goes last, with the youngest
        self._kept[path] = photo.error or KeptPhoto(
            QPixmap.fromImage(photo.image), photo.scale, photo.details, photo.histogram
        )
        wanted = set(self._wanted())
        stale = [key for key in self._kept if key not in wanted]  # oldest first
        for key in stale[: max(0, len(self._kept) - self.keep)]:
            del self._kept[key]
        self.arrived.emit(path)
