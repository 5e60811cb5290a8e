"""The compare view: two photos large, side by side, and one question: which do you prefer?

Keys: ← or 1 picks the left photo, → or 2 the right, = says "can't decide", Space skips the pair,
Backspace undoes the last answer, Z (or a click, at the spot clicked) zooms both photos to 1:1 at the same
spot (the pointer pans both), M and J show focus peaking and clipping as in the loupe, Esc leaves. The
window supplies the pairs (``add_pairs``) and records the answers (``answered``); the next pairs' photos are
decoded ahead, so the next question shows at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPixmap
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QWidget

from aesthetic_curator.gui.photo_decoder import DecodedPhotos, KeptPhoto
from aesthetic_curator.gui.photo_overlays import PhotoOverlays
from aesthetic_curator.gui.screen_fit import resize_within_screen
from aesthetic_curator.gui.zoom_view import ZoomView

#: The compare view's keys (its help line and Help → Keyboard Shortcuts).
COMPARE_KEYS = [
    ("← or 1", "left"),
    ("→ or 2", "right"),
    ("=", "can't decide"),
    ("Space", "skip"),
    ("Backspace", "undo"),
    ("Z or click", "zoom both to 1:1"),
    ("M, J", "sharp edges, clipping (Shift+M: sensitivity)"),
    ("Esc", "done"),
]
#: Pairs decoded ahead of the one shown: with two, a user answering every second while the cores were busy
#: (choosing the next batch, a personalization) met "Loading…" for a few seconds now and then.
PREFETCH_PAIRS = 4
#: When fewer pairs than this are left, the dialog asks for more: more than a batch (10), so the first batch
#: (often 8 pairs) is topped up at once and later ones arrive while a whole batch is still left to answer.
#: Choosing a batch scores up to 16 new photos with every task: about 1 s on an idle 2-core CPU, but 20-40 s
#: while a personalization keeps the cores busy, when 6 left (the old threshold) ran dry every batch.
LOW_WATER = 12
#: Decoded photos kept (the shown pair, the prefetched ones, and the last few for undo), at about screen size;
#: a zoomed pair's full decodes are held by its views only, and dropped with the pair.
KEEP_DECODED = 16


@dataclass(frozen=True)
class ComparePair:
    """Two photos to ask about: ids, files and the caption under each."""

    a_id: int
    a_path: Path
    a_caption: str
    b_id: int
    b_path: Path
    b_caption: str

    @property
    def key(self) -> frozenset[int]:
        return frozenset((self.a_id, self.b_id))


class CompareDialog(QDialog):
    answered = Signal(int, int, str)  # photo a (left), photo b (right), "a", "b" or "tie"
    undo_requested = Signal()
    wants_more = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Which do you prefer?")
        self.setObjectName("compare")
        resize_within_screen(self, 1400, 820)
        self.views = (ZoomView(self), ZoomView(self))
        self.captions = (QLabel(alignment=Qt.AlignmentFlag.AlignCenter), QLabel(alignment=Qt.AlignmentFlag.AlignCenter))
        self.help = QLabel(
            "   ·   ".join(f"{keys}: {what}" for keys, what in COMPARE_KEYS), alignment=Qt.AlignmentFlag.AlignCenter
        )
        self.status = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        layout = QGridLayout(self)
        for column, (view, caption) in enumerate(zip(self.views, self.captions)):
            layout.addWidget(view, 0, column)
            layout.addWidget(caption, 1, column)
            view.pointer_moved.connect(self._pan)
            view.clicked.connect(self.toggle_zoom)
        layout.addWidget(self.help, 2, 0, 1, 2)
        layout.addWidget(self.status, 3, 0, 1, 2)
        layout.setRowStretch(0, 1)
        self.queue: deque[ComparePair] = deque()
        self.current: ComparePair | None = None
        self.seen: set[frozenset[int]] = set()  # asked, answered or skipped in this session: not asked again
        self.answers = 0
        self._waiting_for_more = False
        self.photos = DecodedPhotos(KEEP_DECODED, self.views[0].fit_size, self._wanted_paths, self)
        self.photos.arrived.connect(self._on_arrived)
        self.photos.full_arrived.connect(self._on_full_arrived)
        self.overlays = PhotoOverlays(self._wanted_paths, self)
        self.overlays.arrived.connect(self._on_arrived)
        self.overlays.changed.connect(self._redraw_overlays)
        for view in self.views:  # until the first batch comes (seconds on a CPU, more while it is busy)
            view.show_pixmap(QPixmap(), "Choosing photos to compare…")

    # -- the questions -------------------------------------------------------------------------------
    def add_pairs(self, pairs: list[ComparePair]) -> None:
        """Queue new questions (ones already seen this session are dropped) and show one if none is."""
        self._waiting_for_more = False
        for pair in pairs:
            if pair.key not in self.seen and all(pair.key != queued.key for queued in self.queue):
                self.queue.append(pair)
        if self.current is None:
            self._next()
        elif not pairs and not self.queue:
            self.status.setText("No more pairs to ask for now.")
        self._prefetch()

    def push_front(self, pair: ComparePair) -> None:
        """Ask ``pair`` again now (after an undo), keeping the question on screen for later."""
        if self.current is not None:
            self.queue.appendleft(self.current)
        self.seen.discard(pair.key)
        self.current = None
        self.queue.appendleft(pair)
        self._next()

    def waiting_pairs(self) -> list[tuple[int, int]]:
        """Photo id pairs shown, queued or skipped in this session: a new batch should not bring them again."""
        keys = self.seen | {pair.key for pair in self.queue}  # the pair on screen is in ``seen``
        return sorted(tuple(sorted(key)) for key in keys)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def _next(self) -> None:
        self.current = self.queue.popleft() if self.queue else None
        if self.current is None:
            for view in self.views:
                view.show_pixmap(QPixmap(), "No pair to ask yet: choosing photos…")
            for caption in self.captions:
                caption.setText("")
        else:
            self.seen.add(self.current.key)
            pair = self.current
            for view, path in zip(self.views, (pair.a_path, pair.b_path)):
                self._show(view, path)
            self._update_captions()
        if len(self.queue) < LOW_WATER and not self._waiting_for_more:
            self._waiting_for_more = True
            self.wants_more.emit()
        self._prefetch()

    def _answer(self, outcome: str) -> None:
        """Record ``outcome`` for the pair on screen, only once both photos are shown: a key pressed while one
        still reads "Loading…" (or cannot be shown: Space skips it) would answer about photos not seen."""
        pair = self.current
        if pair is None or not self.is_ready(pair):
            return
        self.answers += 1
        self.answered.emit(pair.a_id, pair.b_id, outcome)
        self._next()

    # -- photos ----------------------------------------------------------------------------------------
    def _prefetch(self) -> None:
        for pair in list(self.queue)[:PREFETCH_PAIRS]:
            self.photos.request(pair.a_path)
            self.photos.request(pair.b_path)

    def _shown_paths(self) -> list[tuple[ZoomView, Path]]:
        pair = self.current
        return list(zip(self.views, (pair.a_path, pair.b_path))) if pair is not None else []

    def _wanted_paths(self) -> set[str]:
        """The photos of the pair shown and of the queued ones: never dropped from the cache."""
        pairs = [pair for pair in (self.current, *self.queue) if pair is not None]
        return {str(path) for pair in pairs for path in (pair.a_path, pair.b_path)}

    def _on_arrived(self, path: str) -> None:
        """A decode, or an overlay, of a photo shown or queued is ready."""
        for view, shown in self._shown_paths():
            if str(shown) == path:
                self._show(view, shown)
                self._update_captions()
                return
        kept = self.photos.get(path)
        if isinstance(kept, KeptPhoto):
            self.overlays.prepare(path, kept.pixmap)  # a queued pair's: made before it is asked

    def _show(self, view: ZoomView, path: Path) -> None:
        self.photos.show_in(view, path)
        kept = self.photos.get(str(path))
        if isinstance(kept, KeptPhoto):
            view.set_overlay(self.overlays.overlay(str(path), kept.pixmap))

    def _redraw_overlays(self) -> None:
        for view, path in self._shown_paths():
            self._show(view, path)

    def _on_full_arrived(self, path: str, pixmap: QPixmap) -> None:
        for view, shown in self._shown_paths():
            if str(shown) == path and view.scale > 1.0:
                view.show_full(pixmap)

    def _update_captions(self) -> None:
        """Each photo's caption, with its shooting details once decoded (was it the shutter speed?)."""
        pair = self.current
        if pair is None:
            return
        for caption, path, text in zip(self.captions, (pair.a_path, pair.b_path), (pair.a_caption, pair.b_caption)):
            kept = self.photos.get(str(path))
            details = kept.details if isinstance(kept, KeptPhoto) else ""
            caption.setText(f"{text}\n{details}" if details else text)

    def is_ready(self, pair: ComparePair) -> bool:
        """Both photos of ``pair`` are decoded (so showing it is instant)."""
        return all(isinstance(self.photos.get(str(p)), KeptPhoto) for p in (pair.a_path, pair.b_path))

    # -- zoom ------------------------------------------------------------------------------------------
    def toggle_zoom(self, at: QPointF | None = None) -> None:
        """Both photos to 1:1 around the same spot (``at``, a share of the photo; the middle by default), or
        back to fitted."""
        zoomed = not self.views[0].zoomed
        for view in self.views:
            view.zoomed = zoomed
            view.centre = at if zoomed and at is not None else QPointF(0.5, 0.5)
            view.update()
        for view, path in self._shown_paths():
            self.photos.ask_full(view, path)

    def _pan(self, centre: QPointF) -> None:
        for view in self.views:  # both photos show the same spot
            view.centre = centre
            view.update()

    # -- keys ------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_1):
            self._answer("a")
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_2):
            self._answer("b")
        elif key == Qt.Key.Key_Equal:
            self._answer("tie")
        elif key == Qt.Key.Key_Space:
            self._next()
        elif key == Qt.Key.Key_Backspace:
            self.undo_requested.emit()
        elif key == Qt.Key.Key_Z:
            self.toggle_zoom()
        elif self.overlays.toggle(key, event.modifiers()):  # M, Shift+M, J: redrawn on overlays.changed
            pass
        elif key == Qt.Key.Key_Escape:
            self.accept()
        else:
            super().keyPressEvent(event)

    def done(self, result: int) -> None:
        self.photos.wait()
        self.overlays.wait()
        super().done(result)
