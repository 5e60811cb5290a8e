"""The thumbnail grid and the rating keys it passes to the window (Lightroom's: 1-5, 0, P, X, U).

Tiles come in a few sizes (Photos → Larger / Smaller Thumbnails, Ctrl+= / Ctrl+-) and stretch so the
columns fill the width, as Lightroom's grid does, instead of leaving a strip of empty space at the right.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from aesthetic_curator.gui.photo_delegate import PhotoDelegate
from aesthetic_curator.library.store import PICKED, REJECTED

#: The tile widths one can choose, in pixels; at the largest the 256 px thumbnails show at about their own size.
TILE_SIZES = (110, 140, 180, 220, 270)
DEFAULT_TILE = 180
#: The narrowest a tile gets when the window is narrower than one chosen tile.
MIN_TILE = 80


class PhotoGridView(QListView):
    """The thumbnail grid; rating keys go to the window, the rest to the list (arrows, selection)."""

    rating_key = Signal(QKeyEvent)
    open_loupe = Signal()
    tile_size_changed = Signal(int)  # the chosen size (one of TILE_SIZES), to be kept between runs

    def __init__(self, parent: QWidget | None = None, tile_size: int = DEFAULT_TILE) -> None:
        super().__init__(parent)
        self.tile_delegate = PhotoDelegate(parent=self)
        self.setItemDelegate(self.tile_delegate)
        self.tile_size = nearest_tile_size(tile_size)
        # Always on: a scroll bar that comes and goes would change the width, hence the tiles' height,
        # hence whether it is needed.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
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

    def set_tile_size(self, size: int) -> None:
        """Choose the tile size (the nearest of TILE_SIZES); the tiles then stretch to fill the width."""
        size = nearest_tile_size(size)
        if size != self.tile_size:
            self.tile_size = size
            self._fit_tiles()
            self.tile_size_changed.emit(size)

    def larger_tiles(self) -> None:
        self.set_tile_size(TILE_SIZES[min(TILE_SIZES.index(self.tile_size) + 1, len(TILE_SIZES) - 1)])

    def smaller_tiles(self) -> None:
        self.set_tile_size(TILE_SIZES[max(TILE_SIZES.index(self.tile_size) - 1, 0)])

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fit_tiles()
        super().resizeEvent(event)

    def _fit_tiles(self) -> None:
        width = fitted_tile_width(self.viewport().width(), self.tile_size, self.spacing())
        if width != self.tile_delegate.tile:
            self.tile_delegate.tile = width
            self.scheduleDelayedItemsLayout()  # the cached uniform item size is measured again

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.open_loupe.emit()
        elif is_rating_key(event):
            self.rating_key.emit(event)
        else:
            super().keyPressEvent(event)


def nearest_tile_size(size: int) -> int:
    return min(TILE_SIZES, key=lambda choice: abs(choice - size))


def fitted_tile_width(available: int, chosen: int, spacing: int) -> int:
    """The width that fills ``available`` pixels with as many columns of at least ``chosen`` as fit; one
    narrower column when not even one fits. The list puts ``spacing`` before each tile and after the last."""
    inside = available - spacing - 1  # the list wraps a tile that would end on the last pixel
    columns = max(1, inside // (chosen + spacing))
    return max(MIN_TILE, inside // columns - spacing)


#: The keys the grid handles itself (Help → Keyboard Shortcuts; the menus' shortcuts are listed from their actions).
GRID_KEYS = [
    ("← → ↑ ↓", "move"),
    ("Shift or Ctrl + click", "select several: the rating keys then rate them all"),
    ("1 – 5", "stars"),
    ("0", "clear the stars"),
    ("P", "pick (again: unflag)"),
    ("X", "reject (again: unflag)"),
    ("U", "unflag"),
    ("6 – 9", "red, yellow, green, blue label (again: none)"),
    ("Space or double-click", "the loupe"),
]


def is_rating_key(event: QKeyEvent) -> bool:
    return event.key() in RATING_KEYS


#: Lightroom's keys: 1-5 stars, 0 no stars, P pick, X reject, U unflag, 6-9 colour labels.
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
    Qt.Key.Key_6: ("label", "red"),
    Qt.Key.Key_7: ("label", "yellow"),
    Qt.Key.Key_8: ("label", "green"),
    Qt.Key.Key_9: ("label", "blue"),
}
