"""The loupe: one photo large, with the grid's rating keys and next/previous.

The full photo is decoded on a worker thread (reduced-scale JPEG decode to the screen size), so
flipping through photos never blocks the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.gui.photo_model import PhotoItem
from aesthetic_curator.images import decode_image
from aesthetic_curator.paths import display_path


class _Decoded(QObject):
    ready = Signal(str, QImage, str)  # path, image, error


class _DecodeJob(QRunnable):
    def __init__(self, path: Path, min_size: int, signals: _Decoded) -> None:
        super().__init__()
        self.path, self.min_size, self.signals = path, min_size, signals

    def run(self) -> None:
        try:
            image = decode_image(self.path, min_size=self.min_size)
        except ImageDecodeError as exc:
            self.signals.ready.emit(str(self.path), QImage(), str(exc))
            return
        data = image.tobytes("raw", "RGB")
        qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()
        self.signals.ready.emit(str(self.path), qimage, "")


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
        self._signals = _Decoded()
        self._signals.ready.connect(self._on_decoded)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def show_item(self, item: PhotoItem) -> None:
        self._item = item
        self.update_caption(item)
        self._pool.clear()
        size = max(self.image_label.width(), self.image_label.height(), 800)
        self._pool.start(_DecodeJob(item.path, size, self._signals))

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
        self._pool.clear()
        self._pool.waitForDone(5000)
        super().done(result)
