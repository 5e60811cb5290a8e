"""One photo, fitted to its view or at 1:1 (one pixel of the file per pixel of the screen): the loupe's and
the compare view's, so a focus check looks the same in both.

The owner shows a reduced decode at once (fast to flip through) and, while zoomed, the full decode when it
comes; until then the reduced one is drawn magnified to the same 1:1 frame, so zooming never waits and the
picture only sharpens. The pointer pans: its place in the view is the place of the photo shown.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

#: The smallest reduced decode asked for (a view before its first layout reports a tiny size).
MIN_FIT_SIZE = 480


class ZoomView(QWidget):
    """A photo fitted or at 1:1 around ``centre`` (0..1 of the photo, shared by views that move together)."""

    pointer_moved = Signal(QPointF)  # the centre wanted, as a share of the photo
    clicked = Signal(QPointF)  # where, as a share of the photo: zoom there (or back to fit)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.pixmap = QPixmap()  # the reduced decode shown fitted
        self.scale = 1.0  # pixels of the full decode per pixel of ``pixmap``
        self.full = QPixmap()  # the full decode, while zoomed (dropped with the photo)
        self.overlay = QPixmap()  # drawn over the photo (the loupe's clipping warning), the reduced decode's size
        self.message = ""
        self.zoomed = False
        self.centre = QPointF(0.5, 0.5)

    def show_pixmap(self, pixmap: QPixmap, message: str = "", scale: float = 1.0) -> None:
        """A new photo (or none, with ``message``): its full decode, if any, is forgotten."""
        self.pixmap, self.message, self.scale, self.full, self.overlay = pixmap, message, scale, QPixmap(), QPixmap()
        self.update()

    def set_overlay(self, overlay: QPixmap) -> None:
        """Draw ``overlay`` (the size of the reduced decode; a null pixmap: none) over the photo."""
        self.overlay = overlay
        self.update()

    def show_full(self, pixmap: QPixmap) -> None:
        """The full decode of the photo shown, for the 1:1 view."""
        self.full = pixmap
        self.update()

    def fit_size(self) -> int:
        """The shorter side a reduced decode needs to fill this view sharply when fitted: the view's shorter
        side in screen pixels (a fitted photo's shorter side is never longer). A floor for a view not laid out
        yet."""
        return max(MIN_FIT_SIZE, round(min(self.width(), self.height()) * self.devicePixelRatioF()))

    def wants_full(self) -> bool:
        """Zoomed on a reduced decode whose full one has not come: the owner should ask for it."""
        return self.zoomed and not self.pixmap.isNull() and self.scale > 1.0 and self.full.isNull()

    def _drawn(self) -> tuple[QPixmap, float]:
        """The pixmap to draw from and its pixels per pixel of the full decode."""
        if self.zoomed and not self.full.isNull():
            return self.full, 1.0
        return self.pixmap, 1.0 / self.scale

    def _per_point(self) -> float:
        """Pixels of the drawn pixmap per point of the view at 1:1: one pixel of the file per physical pixel
        of the screen (a HiDPI point has several)."""
        return self._drawn()[1] * self.devicePixelRatioF()

    def source_rect(self) -> QRectF:
        """The part of the drawn pixmap shown: all of it, or a view-sized window of the full decode (at 1:1)
        around the centre, in that pixmap's pixels."""
        pixmap = self._drawn()[0]
        whole = QRectF(pixmap.rect())
        if not self.zoomed:
            return whole
        per_point = self._per_point()
        width = min(self.width() * per_point, whole.width())
        height = min(self.height() * per_point, whole.height())
        left = min(max(0.0, self.centre.x() * whole.width() - width / 2), whole.width() - width)
        top = min(max(0.0, self.centre.y() * whole.height() - height / 2), whole.height() - height)
        return QRectF(left, top, width, height)

    def target_rect(self) -> QRectF:
        """Where the source rectangle is drawn: as large as fits, centred (at 1:1 never larger: a photo smaller
        than the view stays at its size)."""
        source = self.source_rect()
        fit = min(self.width() / source.width(), self.height() / source.height())
        if self.zoomed:
            fit = min(fit, 1.0 / self._per_point())
        size = source.size() * fit
        return QRectF(QPointF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2), size)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        pixmap = self._drawn()[0]
        if pixmap.isNull():
            painter.setPen(Qt.GlobalColor.lightGray)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message or "Loading…")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target, source = self.target_rect(), self.source_rect()
        painter.drawPixmap(target, pixmap, source)
        if not self.overlay.isNull():  # the same part of the photo, in the overlay's pixels
            share = self.overlay.width() / pixmap.width()
            part = QRectF(source.left() * share, source.top() * share, source.width() * share, source.height() * share)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp clipped pixels
            painter.drawPixmap(target, self.overlay, part)

    def _share(self, position: QPointF, frame: QRectF) -> QPointF:
        """``position`` as a share of ``frame`` (0..1 each way)."""
        return QPointF(
            min(max((position.x() - frame.left()) / max(1.0, frame.width()), 0.0), 1.0),
            min(max((position.y() - frame.top()) / max(1.0, frame.height()), 0.0), 1.0),
        )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.zoomed:  # the pointer's place in the view is the place of the photo shown
            self.pointer_moved.emit(self._share(event.position(), QRectF(self.rect())))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self._drawn()[0].isNull():
            self.clicked.emit(self._share(event.position(), self.target_rect()))  # the spot clicked on the photo
        else:
            super().mousePressEvent(event)
