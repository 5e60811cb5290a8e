"""The survey: the photos selected in the grid (2 to 12) side by side, to choose among near-identical frames
(Lightroom's Survey view, key N); and its select-and-candidate mode (Lightroom's Compare view, key C): the
best frame so far (the select, left) stays while the candidate (right) walks through the others with ←/→,
and ↑ makes the candidate the select, so a burst of any length is settled two large photos at a time.

←/→ choose the photo the rating keys rate (its caption is marked ▶), Z zooms every photo to 1:1 at the
same spot (the pointer pans them together: which frame has the sharp eye?), M marks each photo's sharp edges
(focus peaking) and J its clipped pixels, as in the loupe, a click makes a photo the one to rate. Photos are
decoded off the UI thread at their view's size (:class:`DecodedPhotos`), every pixel only while zoomed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QSizePolicy, QWidget

from aesthetic_curator.gui.photo_decoder import DecodedPhotos, KeptPhoto
from aesthetic_curator.gui.photo_model import PhotoItem
from aesthetic_curator.gui.photo_overlays import PhotoOverlays
from aesthetic_curator.gui.screen_fit import resize_within_screen
from aesthetic_curator.gui.zoom_view import ZoomView

#: The most photos surveyed at once (as Capture One; more would each be too small to judge).
MAX_SURVEYED = 12
#: The survey's keys (Help → Keyboard Shortcuts).
SURVEY_KEYS = [
    ("← → or a click", "the photo to rate (▶)"),
    ("1 – 5, 0, P, X, U, 6 – 9", "rate or label it, as in the grid (Ctrl+Z takes it back)"),
    ("Z", "every photo to 1:1 at the same spot (the pointer pans them); again: fitted"),
    ("M", "focus peaking: each photo's sharp edges green (again: off)"),
    ("Shift+M", "focus peaking's sensitivity: normal, strict, loose"),
    ("J", "where each photo is clipped: blown pixels red, crushed ones blue (again: off)"),
    ("N or Esc", "back to the grid"),
]
#: The select-and-candidate mode's own keys (the others as in the survey).
CANDIDATE_KEYS = [
    ("← →", "the previous, next candidate (right); the select (left) stays"),
    ("↑", "the candidate becomes the select, the next photo the candidate"),
    ("Tab or a click", "which of the two the rating keys rate (▶)"),
    ("Z, M, J, 1 – 5, 0, P, X, U, 6 – 9", "as in the survey"),
    ("C or Esc", "back to the grid, on the select"),
]


class SurveyDialog(QDialog):
    """Shows ``items``; rating keys go to the window with the photo they are for."""

    key_rating = Signal(int, QKeyEvent)  # the photo to rate, the key (handled as in the grid)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Survey")
        self.setObjectName("survey")
        resize_within_screen(self, 1400, 860)
        self._layout = QGridLayout(self)
        self.items: list[PhotoItem] = []
        self.views: list[ZoomView] = []
        self.captions: list[QLabel] = []
        self.active = 0
        self.sequence: list[PhotoItem] = []  # select-and-candidate mode: what the candidate walks through
        self._candidate_at = 0  # the candidate's place in ``sequence``
        self.photos = DecodedPhotos(2 * MAX_SURVEYED, self._fit_size, self._wanted, self)
        self.photos.arrived.connect(self._on_arrived)
        self.photos.full_arrived.connect(self._on_full_arrived)
        self.overlays = PhotoOverlays(self._wanted, self)  # M and J, as in the loupe
        self.overlays.arrived.connect(self._on_arrived)
        self.overlays.changed.connect(self._redraw_overlays)

    def show_items(self, items: list[PhotoItem]) -> None:
        """Survey ``items`` (the first :data:`MAX_SURVEYED`), in one row up to three, two rows up to eight, else
        three."""
        self.sequence = []
        self.setWindowTitle("Survey")
        self._build(items[:MAX_SURVEYED])

    def show_candidates(self, sequence: list[PhotoItem], select: int) -> None:
        """Select-and-candidate mode: ``sequence[select]`` left, the next photo of ``sequence`` right (rated)."""
        self._build([sequence[select], sequence[(select + 1) % len(sequence)]])
        self.sequence, self._candidate_at, self.active = list(sequence), (select + 1) % len(sequence), 1
        self.setWindowTitle("Select and candidate")
        self._prefetch()
        self._update_captions()

    def _build(self, items: list[PhotoItem]) -> None:
        for widget in [*self.views, *self.captions]:
            widget.deleteLater()
        self.items = items
        self.views, self.captions, self.active = [], [], 0
        for row in range(self._layout.rowCount()):
            self._layout.setRowStretch(row, 0)
        rows = 1 if len(self.items) <= 3 else 2 if len(self.items) <= 8 else 3
        columns = -(-len(self.items) // rows)
        for n in range(len(self.items)):
            view, caption = ZoomView(self), QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
            caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # 12 panes fit a screen
            view.clicked.connect(lambda _at, n=n: self._activate(n))
            view.pointer_moved.connect(self._pan)
            row, column = divmod(n, columns)
            self._layout.addWidget(view, 2 * row, column)
            self._layout.addWidget(caption, 2 * row + 1, column)
            self._layout.setRowStretch(2 * row, 1)
            self.views.append(view)
            self.captions.append(caption)
        self.photos.drop_pending()
        for item, view in zip(self.items, self.views):
            self._show(item, view)
        self._update_captions()

    def update_caption(self, item: PhotoItem) -> None:
        """A rating changed: its caption says so (when the photo is surveyed)."""
        self.items = [item if shown.id == item.id else shown for shown in self.items]
        self.sequence = [item if other.id == item.id else other for other in self.sequence]
        self._update_captions()

    def _walk(self, step: int) -> None:
        """The candidate moves ``step`` photos through ``sequence``, past the select."""
        place = self._candidate_at
        for _ in range(len(self.sequence)):
            place = (place + step) % len(self.sequence)
            if self.sequence[place].id != self.items[0].id:
                break
        self._candidate_at = place
        self._replace(1, self.sequence[place])
        self._prefetch()

    def _promote(self) -> None:
        """↑: the candidate is the better frame: it becomes the select, and the next photo the candidate."""
        self._replace(0, self.items[1])
        if len(self.sequence) > 2:
            self._walk(1)

    def _replace(self, n: int, item: PhotoItem) -> None:
        self.items[n] = item
        self.views[n].set_overlay(QPixmap())
        self._show(item, self.views[n])
        self._update_captions()

    def _prefetch(self) -> None:
        """The candidates on either side are decoded ahead, so walking shows them at once."""
        for step in (1, -1):
            self.photos.request(self.sequence[(self._candidate_at + step) % len(self.sequence)].path)

    def _fit_size(self) -> int:
        return self.views[0].fit_size() if self.views else 480

    def _wanted(self) -> set[str]:
        ahead = [(self._candidate_at + step) % len(self.sequence) for step in (1, -1)] if self.sequence else []
        return {str(item.path) for item in self.items} | {str(self.sequence[n].path) for n in ahead}

    def _on_arrived(self, path: str) -> None:
        """A decode, or a focus-peaking overlay, of a surveyed photo is ready."""
        for item, view in zip(self.items, self.views):
            if str(item.path) == path:
                self._show(item, view)
        self._update_captions()

    def _show(self, item: PhotoItem, view: ZoomView) -> None:
        self.photos.show_in(view, item.path)
        kept = self.photos.get(str(item.path))
        if isinstance(kept, KeptPhoto):
            view.set_overlay(self.overlays.overlay(str(item.path), kept.pixmap))

    def _redraw_overlays(self) -> None:
        for item, view in zip(self.items, self.views):
            self._show(item, view)
        self._update_captions()

    def _on_full_arrived(self, path: str, pixmap: QPixmap) -> None:
        for item, view in zip(self.items, self.views):
            if str(item.path) == path and view.scale > 1.0:
                view.show_full(pixmap)

    def _update_captions(self) -> None:
        """Each photo's name and rating; with focus peaking on, its share on sharp edges, and which of them is
        the sharpest once every one is measured (near-identical frames: the one in focus)."""
        shares = [self.overlays.focus_share(str(item.path)) for item in self.items]
        measured = [share for share in shares if share is not None]
        sharpest = shares.index(max(measured)) if len(measured) == len(shares) >= 2 else None
        for n, (item, caption) in enumerate(zip(self.items, self.captions)):
            marker = "▶ " if n == self.active else ""
            focus = "" if shares[n] is None else f"   {self.overlays.focus_caption(shares[n])}"
            focus += "  SHARPEST" if n == sharpest else ""
            caption.setText(f"{marker}{item.name_text()}   {item.rating_text()}{focus}")
            caption.setToolTip(caption.text())  # whole, where a narrow pane wraps or cuts it
            caption.setStyleSheet("font-weight: bold" if n == self.active else "")

    def _activate(self, n: int) -> None:
        if 0 <= n < len(self.items):
            self.active = n
            self._update_captions()

    def toggle_zoom(self) -> None:
        """Every photo to 1:1 at the same spot (the middle at first), or back to fitted."""
        zoomed = not (self.views and self.views[0].zoomed)
        for item, view in zip(self.items, self.views):
            view.zoomed, view.centre = zoomed, QPointF(0.5, 0.5)
            view.update()
            self.photos.ask_full(view, item.path)

    def _pan(self, centre: QPointF) -> None:
        for view in self.views:
            view.centre = centre
            view.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+Z, Ctrl+Shift+Z: the window's undo
            if self.items:
                self.key_rating.emit(self.items[self.active].id, event)
        elif self.sequence and key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            self._walk(1 if key == Qt.Key.Key_Right else -1)
        elif self.sequence and key == Qt.Key.Key_Up:
            self._promote()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Tab):
            step = -1 if key == Qt.Key.Key_Left else 1
            self._activate((self.active + step) % max(1, len(self.items)))
        elif key == Qt.Key.Key_Z:
            self.toggle_zoom()
        elif self.overlays.toggle(key, event.modifiers()):  # M, Shift+M, J: redrawn on overlays.changed
            pass
        elif key in (Qt.Key.Key_N, Qt.Key.Key_C, Qt.Key.Key_Escape):
            self.accept()
        elif self.items:
            self.key_rating.emit(self.items[self.active].id, event)

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab is a key of this view (which photo the rating keys rate), not a move between widgets."""
        return False

    def done(self, result: int) -> None:
        self.photos.wait()
        self.overlays.wait()
        super().done(result)
