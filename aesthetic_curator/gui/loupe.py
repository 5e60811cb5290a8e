"""The loupe: one photo large, with the grid's rating keys and next/previous.

The full photo is decoded on a worker thread (:mod:`photo_decoder`), so flipping through photos never
blocks the window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aesthetic_curator.gui.photo_decoder import PhotoDecoder
from aesthetic_curator.gui.photo_model import PhotoItem
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
        self.image_label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image_label.setMinimumSize(200, 200)
        self.caption = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image_label, 1)
        layout.addWidget(self.caption)
        self._pixmap = QPixmap()
        self._item: PhotoItem | None = None
        self._decoder = PhotoDecoder(1, self)
        self._decoder.decoded.connect(self._on_decoded)

    def show_item(self, item: PhotoItem) -> None:
        self._item = item
        self.update_caption(item)
        self._decoder.drop_pending()
        self._decoder.request(item.path, max(self.image_label.width(), self.image_label.height(), 800))

    def update_caption(self, item: PhotoItem) -> None:
        if self._item is None or item.id != self._item.id:
            return
        self._item = item
        stars = "★" * (item.stars or 0) + "☆" * (5 - (item.stars or 0))
        flag = {1: "  PICK", -1: "  REJECT"}.get(item.flag, "")
        rank = f"   #{item.rank} · score {item.score:.2f}" if item.rank is not None else ""
        self.caption.setText(f"{display_path(item.photo.relpath)}   {stars}{flag}{rank}")

    def _on_decoded(self, path: str, image: QImage, error: str) -> None:
        if self._item is None or str(self._item.path) != path:
            return  # the user moved on
        if error:
            self._pixmap = QPixmap()
            self.image_label.setText(f"Cannot show this photo:\n{error}")
            return
        self._pixmap = QPixmap.fromImage(image)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap.isNull():
            return
        self.image_label.setPixmap(
            self._pixmap.scaled(
                self.image_label.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.navigate.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.navigate.emit(-1)
        elif key in (Qt.Key.Key_Space, Qt.Key.Key_Escape, Qt.Key.Key_Return):
            self.accept()
        else:
            self.key_rating.emit(event)

    def done(self, result: int) -> None:
        self._decoder.wait()
        super().done(result)
