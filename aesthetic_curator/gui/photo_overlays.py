"""What the loupe, the survey and the compare view draw over a photo: the clipping overlay (J, exposure.py:
numpy, ~10 ms, made on the UI thread) and focus peaking (M, focus.py: 0.1-0.35 s of numpy and scipy for the
loupe's decode, so made on a worker thread and shown when it arrives), each made once per photo and kept for
the photos shown lately.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap

from aesthetic_curator.exposure import clipping_overlay
from aesthetic_curator.focus import FOCUS_LEVELS, focus_mask, mask_overlay


def image_pixels(image: QImage) -> np.ndarray:
    """An image's pixels as an (h, w, 3) uint8 array (a copy; the image may go)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def rgba_image(overlay: np.ndarray) -> QImage:
    """An (h, w, 4) uint8 array as a QImage that owns its pixels."""
    overlay = np.ascontiguousarray(overlay)
    height, width = overlay.shape[:2]
    return QImage(overlay.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


def clipping_pixmap(photo: QPixmap) -> QPixmap:
    """The clipping overlay (exposure.clipping_overlay) of a shown photo, the same size."""
    return QPixmap.fromImage(rgba_image(clipping_overlay(image_pixels(photo.toImage()))))


def layered(overlays: list[QPixmap]) -> QPixmap:
    """The overlays drawn one over the other (the first at the bottom); a null pixmap for none."""
    if len(overlays) <= 1:
        return overlays[0] if overlays else QPixmap()
    combined = QPixmap(overlays[0].size())
    combined.fill(Qt.GlobalColor.transparent)
    painter = QPainter(combined)
    for overlay in overlays:
        painter.drawPixmap(0, 0, overlay)
    painter.end()
    return combined


class _Signals(QObject):
    ready = Signal(str, QImage, float, str)  # path, overlay, share on sharp edges, the level it was made at


class _FocusJob(QRunnable):
    def __init__(self, path: str, image: QImage, level: str, signals: _Signals) -> None:
        super().__init__()
        self.path, self.image, self.level, self.signals = path, image, level, signals

    def run(self) -> None:
        mask = focus_mask(image_pixels(self.image), FOCUS_LEVELS[self.level])
        self.signals.ready.emit(self.path, rgba_image(mask_overlay(mask)), float(mask.mean()), self.level)


class FocusMasks(QObject):
    """Focus-peaking overlays by photo path, with the share of the photo on sharp edges, made on one worker
    thread at the current sensitivity (``level``, a key of ``focus.FOCUS_LEVELS``); ``arrived(path)`` says
    one is new. Those of photos no longer ``wanted()`` are dropped when a new one arrives."""

    arrived = Signal(str)

    def __init__(self, wanted: Callable[[], Collection[str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._wanted = wanted
        self._masks: dict[str, tuple[QPixmap, float]] = {}  # path -> (overlay, share on sharp edges)
        self._asked: set[str] = set()
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.level = "normal"

    def set_level(self, level: str) -> None:
        """Another sensitivity: the overlays are made again (those on their way at the old one are dropped)."""
        if level not in FOCUS_LEVELS:
            raise ValueError(f"focus peaking level must be one of {list(FOCUS_LEVELS)}, not {level!r}")
        if level != self.level:
            self.level = level
            self.clear()

    def get(self, path: str) -> QPixmap | None:
        made = self._masks.get(path)
        return made[0] if made is not None else None

    def share(self, path: str) -> float | None:
        """The share (0..1) of the photo's pixels on a sharp edge, once its overlay is made."""
        made = self._masks.get(path)
        return made[1] if made is not None else None

    def request(self, path: str, photo: QPixmap) -> None:
        """Make ``path``'s overlay from the decode shown (``photo``), unless it is made or on its way."""
        if path not in self._masks and path not in self._asked:
            self._asked.add(path)
            self._pool.start(_FocusJob(path, photo.toImage(), self.level, self._signals))

    def clear(self) -> None:
        """The photos are decoded again (a larger view): overlays are remade from the new decodes."""
        self._masks.clear()
        self._asked.clear()

    def _on_ready(self, path: str, image: QImage, share: float, level: str) -> None:
        if level != self.level:
            return  # made before the sensitivity changed; the new one is asked for when drawn
        self._asked.discard(path)
        wanted = set(self._wanted())
        self._masks = {p: made for p, made in self._masks.items() if p in wanted}
        self._masks[path] = (QPixmap.fromImage(image), share)
        self.arrived.emit(path)

    def wait(self, msecs: int = 5000) -> None:
        self._pool.clear()
        self._pool.waitForDone(msecs)


class PhotoOverlays(QObject):
    """What a view draws over its photos, as the user switched it on: focus peaking (made on a worker) under the
    clipping overlay (made at once), each made once per photo and kept while the view ``wanted()`` it. The
    loupe, the survey and the compare view each keep one; ``arrived(path)`` says a photo's focus peaking is
    ready to draw, ``changed`` that what is shown changed (a key through ``toggle``, or the window's ``show``):
    the view draws its photos' overlays again."""

    arrived = Signal(str)
    changed = Signal()
    focus_toggled = Signal(bool)  # M pressed: the window keeps the choice for every view
    clipping_toggled = Signal(bool)  # J pressed: likewise
    focus_level_changed = Signal(str)  # Shift+M: focus peaking's next sensitivity; likewise

    def __init__(self, wanted: Callable[[], Collection[str]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clipping_shown = False  # J
        self.focus_shown = False  # M
        self._wanted = wanted
        self.focus = FocusMasks(wanted, self)
        self.focus.arrived.connect(self.arrived)
        self._clipping: dict[str, QPixmap] = {}

    def overlay(self, path: str, photo: QPixmap) -> QPixmap:
        """The overlay to draw over ``photo`` (``path``'s decode): a null pixmap for none (yet)."""
        layers = []
        if self.focus_shown:
            mask = self.focus.get(path)
            if mask is None:
                self.focus.request(path, photo)
            else:
                layers.append(mask)
        if self.clipping_shown:
            if path not in self._clipping:
                wanted = set(self._wanted())
                self._clipping = {p: overlay for p, overlay in self._clipping.items() if p in wanted}
                self._clipping[path] = clipping_pixmap(photo)
            layers.append(self._clipping[path])
        return layered(layers)

    def toggle(self, key: int, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> bool:
        """M or J pressed in a view: that overlay on or off; Shift+M: focus peaking's next sensitivity (and
        on); each said by a signal, and ``changed``. False for any other key."""
        if key == Qt.Key.Key_M and modifiers & Qt.KeyboardModifier.ShiftModifier:
            levels = list(FOCUS_LEVELS)
            self.focus.set_level(levels[(levels.index(self.focus.level) + 1) % len(levels)])
            self.focus_level_changed.emit(self.focus.level)
            if not self.focus_shown:
                self.focus_shown = True
                self.focus_toggled.emit(True)
        elif key == Qt.Key.Key_M:
            self.focus_shown = not self.focus_shown
            self.focus_toggled.emit(self.focus_shown)
        elif key == Qt.Key.Key_J:
            self.clipping_shown = not self.clipping_shown
            self.clipping_toggled.emit(self.clipping_shown)
        else:
            return False
        self.changed.emit()
        return True

    def show(self, focus: bool, clipping: bool, level: str) -> None:
        """Focus peaking (M) at sensitivity ``level`` (a key of ``focus.FOCUS_LEVELS``) and the clipping overlay
        (J), as the window keeps them for every view."""
        self.focus_shown, self.clipping_shown = focus, clipping
        self.focus.set_level(level)
        self.changed.emit()

    def prepare(self, path: str, photo: QPixmap) -> None:
        """A photo decoded ahead: its focus peaking is made now, so flipping to it shows it at once."""
        if self.focus_shown:
            self.focus.request(path, photo)

    def focus_share(self, path: str) -> float | None:
        """The share of ``path`` on sharp edges while focus peaking is on and measured, else None."""
        return self.focus.share(path) if self.focus_shown else None

    def focus_caption(self, share: float) -> str:
        """The caption of a share: "sharp edges 4.2%", naming the sensitivity when it is not normal ("(strict)")."""
        level = self.focus.level
        return f"sharp edges {share:.1%}" + (f" ({level})" if level != "normal" else "")

    def clear(self) -> None:
        """The photos are decoded again (a larger view): the overlays are remade from the new decodes."""
        self.focus.clear()
        self._clipping.clear()

    def wait(self) -> None:
        self.focus.wait()
