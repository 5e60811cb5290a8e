"""The loupe: one photo large, with the grid's rating keys and next/previous, and 1:1 for a focus check.

The photo is decoded on a worker thread (:mod:`photo_decoder`) at about the screen's size, so flipping
through photos never blocks the window; Z or a click zooms to 1:1 (at the spot clicked), and every pixel of
the file is decoded then, ahead of anything else (the reduced one, magnified, shows meanwhile). The zoom
stays on while flipping, as a photographer comparing the focus of a series expects.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aesthetic_curator.gui.photo_decoder import FULL_DECODE_PRIORITY, PhotoDecoder
from aesthetic_curator.gui.photo_model import PhotoItem
from aesthetic_curator.gui.zoom_view import ZoomView
from aesthetic_curator.paths import display_path


class LoupeDialog(QDialog):
    """Shows ``current`` and asks the window for neighbours and ratings through signals."""

    navigate = Signal(int)  # -1 previous, +1 next
    key_rating = Signal(QKeyEvent)  # a rating key, handled by the window exactly like in the grid

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Loupe")
        self.setObjectName("loupe")
        self.resize(1100, 800)
        self.view = ZoomView(self)
        self.view.clicked.connect(self.toggle_zoom)
        self.view.pointer_moved.connect(self._pan)
        self.view.setToolTip("Z or a click: 1:1 at that spot (the pointer pans) · ←/→: previous, next · 1-5, P, X")
        self.caption = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self._item: PhotoItem | None = None
        self._shown: str | None = None  # the path whose (reduced) decode the view holds
        self._full_asked: str | None = None
        self._decoder = PhotoDecoder(1, self)
        self._decoder.decoded.connect(self._on_decoded)

    def show_item(self, item: PhotoItem) -> None:
        """Show ``item`` (the previous photo stays until it is decoded: no flash of "Loading…")."""
        self._item, self._full_asked = item, None
        self.update_caption(item)
        self._decoder.drop_pending()
        self._decoder.request(item.path, max(self.view.width(), self.view.height(), 800))

    def update_caption(self, item: PhotoItem) -> None:
        if self._item is None or item.id != self._item.id:
            return
        self._item = item
        stars = "★" * (item.stars or 0) + "☆" * (5 - (item.stars or 0))
        flag = {1: "  PICK", -1: "  REJECT"}.get(item.flag, "")
        rank = f"   #{item.rank} · score {item.score:.2f}" if item.rank is not None else ""
        zoom = "   ·   1:1 (Z: fit)" if self.view.zoomed else ""
        self.caption.setText(f"{display_path(item.photo.relpath)}   {stars}{flag}{rank}{zoom}")

    def _on_decoded(self, path: str, image: QImage, scale: float, error: str) -> None:
        if self._item is None or str(self._item.path) != path:
            return  # the user moved on
        if error:
            self._shown = None
            self.view.show_pixmap(QPixmap(), f"Cannot show this photo:\n{error}")
            return
        if self._shown == path and scale == 1.0 and self.view.scale > 1.0:
            self.view.show_full(QPixmap.fromImage(image))  # the zoom's every pixel; the fitted view keeps its own
            return
        self._shown = path
        self.view.show_pixmap(QPixmap.fromImage(image), scale=scale)
        self._ask_full()

    def _ask_full(self) -> None:
        if self._item is not None and self.view.wants_full() and self._full_asked != self._shown:
            self._full_asked = self._shown
            self._decoder.request(self._item.path, None, FULL_DECODE_PRIORITY)

    def toggle_zoom(self, at: QPointF | None = None) -> None:
        """1:1 around ``at`` (a share of the photo; the middle by default), or back to fitted."""
        self.view.zoomed = not self.view.zoomed
        self.view.centre = at if self.view.zoomed and at is not None else QPointF(0.5, 0.5)
        self.view.update()
        self._ask_full()
        if self._item is not None:
            self.update_caption(self._item)

    def _pan(self, centre: QPointF) -> None:
        self.view.centre = centre
        self.view.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.navigate.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.navigate.emit(-1)
        elif key == Qt.Key.Key_Z:
            self.toggle_zoom()
        elif key in (Qt.Key.Key_Space, Qt.Key.Key_Escape, Qt.Key.Key_Return):
            self.accept()
        else:
            self.key_rating.emit(event)

    def done(self, result: int) -> None:
        self._decoder.wait()
        super().done(result)
