"""The thumbnail grid and the rating keys it passes to the window (Lightroom's: 1-5, 0, P, X, U)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from aesthetic_curator.library.store import PICKED, REJECTED


class PhotoGridView(QListView):
    """The thumbnail grid; rating keys go to the window, the rest to the list (arrows, selection)."""

    rating_key = Signal(QKeyEvent)
    open_loupe = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSpacing(2)
        self.setWordWrap(False)
        self.doubleClicked.connect(lambda _: self.open_loupe.emit())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.open_loupe.emit()
        elif is_rating_key(event):
            self.rating_key.emit(event)
        else:
            super().keyPressEvent(event)


def is_rating_key(event: QKeyEvent) -> bool:
    return event.key() in RATING_KEYS


#: Lightroom's keys: 1-5 stars, 0 no stars, P pick, X reject, U unflag.
RATING_KEYS = {
    Qt.Key.Key_0: ("stars", None),
    Qt.Key.Key_1: ("stars", 1),
    Qt.Key.Key_2: ("stars", 2),
    Qt.Key.Key_3: ("stars", 3),
    Qt.Key.Key_4: ("stars", 4),
    Qt.Key.Key_5: ("stars", 5),
    Qt.Key.Key_P: ("flag", PICKED),
    Qt.Key.Key_X: ("flag", REJECTED),
    Qt.Key.Key_U: ("flag", 0),
}
