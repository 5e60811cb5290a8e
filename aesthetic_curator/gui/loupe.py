"""The loupe: one photo large, with the grid's rating keys and next/previous, and 1:1 for a focus check.

Photos are decoded on worker threads (:mod:`photo_decoder`) at about the screen's size, the grid's next
and previous ones ahead, so flipping through a series shows each at once and never blocks the window. Z or a
click zooms to 1:1 (at the spot clicked), and every pixel of the file is decoded then, ahead of anything else
(the reduced one, magnified, shows meanwhile). The zoom stays on while flipping, as a photographer comparing
the focus of a series expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aesthetic_curator.gui.histogram_view import HistogramView
from aesthetic_curator.gui.photo_decoder import DecodedPhotos, KeptPhoto
from aesthetic_curator.gui.photo_model import PhotoItem
from aesthetic_curator.gui.photo_overlays import PhotoOverlays
from aesthetic_curator.gui.screen_fit import resize_within_screen
from aesthetic_curator.gui.zoom_view import ZoomView

#: The loupe's keys (Help → Keyboard Shortcuts).
LOUPE_KEYS = [
    ("← → (↑ ↓)", "previous, next photo"),
    ("1 – 5, 0, P, X, U, 6 – 9", "rate or label, as in the grid (Ctrl+Z takes it back)"),
    ("Z or a click", "1:1 at that spot (the pointer pans); again: fitted"),
    ("F", "full screen (again: a window)"),
    ("H", "histogram, with how much is blown or crushed (again: off)"),
    ("J", "where it is clipped: blown pixels red, crushed ones blue (again: off)"),
    ("M", "focus peaking: the sharp edges green (again: off)"),
    ("Shift+M", "focus peaking's sensitivity: normal, strict (critical focus), loose"),
    ("Ctrl+I", "why this photo scores as it does (Profile → Why These Scores?)"),
    ("Space, Return or Esc", "back to the grid"),
]
#: Reduced decodes kept (the photo shown, its neighbours, the last few seen): about 12 MB each for 12 MP.
KEEP_DECODED = 6
#: Decoder priority of the photo asked for: before the neighbours decoded ahead (a zoom's full decode goes
#: before both).
SHOWN_PRIORITY = 1


class LoupeDialog(QDialog):
    """Shows ``current`` and asks the window for neighbours and ratings through signals."""

    navigate = Signal(int)  # -1 previous, +1 next
    histogram_toggled = Signal(bool)  # H: the window keeps the choice between runs
    key_rating = Signal(QKeyEvent)  # a rating key, handled by the window exactly like in the grid

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Loupe")
        self.setObjectName("loupe")
        resize_within_screen(self, 1100, 800)
        self.view = ZoomView(self)
        self.view.clicked.connect(self.toggle_zoom)
        self.view.pointer_moved.connect(self._pan)
        self.view.setToolTip("Z or a click: 1:1 at that spot (the pointer pans) · ←/→: previous, next · 1-5, P, X")
        self.histogram = HistogramView(self.view)
        self.histogram.hide()
        self.caption = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self._item: PhotoItem | None = None
        self._place = ""  # where the photo is in the grid
        self._shown: str | None = None  # the path whose (reduced) decode the view holds
        self._details = ""  # the shooting details of that photo
        self._wanted: list[str] = []  # the photo shown and its neighbours
        self._neighbours: list[Path] = []
        self.photos = DecodedPhotos(KEEP_DECODED, self.view.fit_size, lambda: self._wanted, self)
        self.photos.arrived.connect(self._on_arrived)
        self.photos.full_arrived.connect(self._on_full_arrived)
        self.overlays = PhotoOverlays(lambda: self._wanted, self)  # J and M
        self.overlays.arrived.connect(self._on_focus_arrived)
        self.overlays.changed.connect(self._redraw_overlays)

    def show_item(self, item: PhotoItem, neighbours: Sequence[Path] = (), place: str = "") -> None:
        """Show ``item`` (at once when it was decoded ahead; else the previous photo stays until it is, with no
        flash of "Loading…"), and decode ``neighbours`` ahead. ``place``: where it is in the grid ("12 / 340")."""
        self._item, self._place = item, place
        self.update_caption(item)
        self.photos.drop_pending()  # the photos left behind; a decode already running still arrives
        self._wanted = [str(item.path), *(str(path) for path in neighbours)]
        if str(item.path) in self.photos:
            self._display(str(item.path))
        self._neighbours = list(neighbours)
        for priority, path in [(SHOWN_PRIORITY, item.path), *((0, path) for path in neighbours)]:
            self.photos.request(path, priority)

    def set_histogram_shown(self, shown: bool) -> None:
        self.histogram.setVisible(shown)
        self._place_histogram()

    def _redraw_overlays(self) -> None:
        for path in self._wanted:  # the neighbours' too, so flipping shows theirs at once
            self._prepare_overlays(path)
        self._show_overlays()
        if self._item is not None:
            self.update_caption(self._item)

    def _show_overlays(self) -> None:
        """The overlays switched on, over the photo shown (focus peaking once it is made)."""
        kept = self.photos.get(self._shown or "")
        overlay = self.overlays.overlay(self._shown, kept.pixmap) if isinstance(kept, KeptPhoto) else QPixmap()
        self.view.set_overlay(overlay)

    def _prepare_overlays(self, path: str) -> None:
        kept = self.photos.get(path)
        if isinstance(kept, KeptPhoto):
            self.overlays.prepare(path, kept.pixmap)

    def _on_focus_arrived(self, path: str) -> None:
        if path == self._shown:
            self._show_overlays()
            if self._item is not None:
                self.update_caption(self._item)

    def _place_histogram(self) -> None:
        self.histogram.move(self.view.width() - self.histogram.width() - 8, 8)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A larger loupe (maximized, another screen) needs larger decodes than those kept: decode again."""
        super().resizeEvent(event)
        self._place_histogram()
        shown = self.photos.get(self._shown or "")
        small = isinstance(shown, KeptPhoto) and min(shown.pixmap.width(), shown.pixmap.height()) < self.view.fit_size()
        if small and shown.scale > 1.0:
            self.photos.clear()
            self.overlays.clear()
            if self._item is not None:
                self.show_item(self._item, self._neighbours)

    def update_caption(self, item: PhotoItem) -> None:
        if self._item is None or item.id != self._item.id:
            return
        self._item = item
        rank = f"   #{item.rank} · score {item.score:.2f}" if item.rank is not None else ""
        zoom = "   ·   1:1 (Z: fit)" if self.view.zoomed else ""
        details = f"\n{self._details}" if self._details and self._shown == str(item.path) else ""
        share = self.overlays.focus_share(str(item.path))
        zoom += f"   ·   {self.overlays.focus_caption(share)}" if share is not None else ""
        place = f"{self._place}   ·   " if self._place else ""
        self.caption.setText(f"{place}{item.name_text()}   {item.rating_text()}{rank}{zoom}{details}")

    def _on_arrived(self, path: str) -> None:
        self._prepare_overlays(path)
        if self._item is not None and str(self._item.path) == path:
            self._display(path)

    def _on_full_arrived(self, path: str, pixmap: QPixmap) -> None:
        if self._shown == path and self._item is not None and str(self._item.path) == path:
            self.view.show_full(pixmap)

    def _display(self, path: str) -> None:
        kept = self.photos.get(path)
        if isinstance(kept, KeptPhoto):
            self._shown, self._details = path, kept.details
            self.view.show_pixmap(kept.pixmap, scale=kept.scale)
            self.histogram.show_histogram(kept.histogram)
            self._show_overlays()
            self._ask_full()
        else:
            self._shown, self._details = None, ""
            self.view.show_pixmap(QPixmap(), f"Cannot show this photo:\n{kept}")
            self.histogram.show_histogram(None)
        if self._item is not None:
            self.update_caption(self._item)

    def _ask_full(self) -> None:
        """Zoomed on a reduced decode: decode every pixel of it, ahead of the neighbours."""
        if self._shown is not None:
            self.photos.ask_full(self.view, Path(self._shown))

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
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+Z, Ctrl+Shift+Z: the window's undo
            self.key_rating.emit(event)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.navigate.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.navigate.emit(-1)
        elif key == Qt.Key.Key_Z:
            self.toggle_zoom()
        elif key == Qt.Key.Key_F:  # the photo gets the whole screen; the decodes grow with it (resizeEvent)
            if self.isFullScreen():
                self.showNormal()
            else:
                self.showFullScreen()
        elif self.overlays.toggle(key, event.modifiers()):  # M, Shift+M, J: redrawn on overlays.changed
            pass
        elif key == Qt.Key.Key_H:
            self.set_histogram_shown(not self.histogram.isVisible())
            self.histogram_toggled.emit(self.histogram.isVisible())
        elif key in (Qt.Key.Key_Space, Qt.Key.Key_Escape, Qt.Key.Key_Return):
            self.accept()
        else:
            self.key_rating.emit(event)

    def done(self, result: int) -> None:
        self.photos.wait()
        self.overlays.wait()
        if self.isFullScreen():
            self.showNormal()  # the next Space opens a window again
        super().done(result)
