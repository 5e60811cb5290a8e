"""The loupe's histogram and clipping warning: exposure.py's numbers, and H in the loupe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from aesthetic_curator.exposure import BLOWN_COLOUR, CRUSHED_COLOUR, clipping_overlay, describe_clipping, histogram
from aesthetic_curator.gui.main_window import MainWindow
from tests.test_gui import TIMEOUT, album, open_album, window  # noqa: F401  (fixtures)


def test_histogram_counts_every_pixel_and_clipping_reads_the_worst_channel():
    pixels = np.full((40, 100, 3), 128, dtype=np.uint8)
    pixels[:, :50] = 255  # half blown to white
    pixels[:10, 50:] = 1  # an eighth crushed (within the margin of black)
    shares = histogram(Image.fromarray(pixels)).clipped()
    assert np.allclose(shares, (0.125, 0.5))
    assert describe_clipping(shares) == "50.0% blown highlights · 12.5% crushed shadows"
    sky = Image.new("RGB", (10, 10), (90, 160, 255))  # blue alone at 255: still blown
    assert histogram(sky).clipped()[1] == 1.0
    assert describe_clipping(histogram(Image.new("RGB", (8, 8), (120, 120, 120))).clipped()) == "nothing clipped"


def test_the_clipping_overlay_marks_blown_pixels_red_and_crushed_ones_blue():
    pixels = np.full((2, 3, 3), 128, dtype=np.uint8)
    pixels[0, 0] = (255, 120, 90)  # one channel blown is blown
    pixels[1, 2] = (1, 0, 2)  # every channel crushed
    pixels[1, 1] = (0, 60, 0)  # one channel at black is not crushed: a deep colour
    overlay = clipping_overlay(pixels)
    assert tuple(overlay[0, 0]) == BLOWN_COLOUR and tuple(overlay[1, 2]) == CRUSHED_COLOUR
    assert overlay[..., 3].sum() == 2 * 255  # the rest transparent


def test_h_and_j_show_histogram_and_clipping_in_the_loupe_and_are_remembered(qtbot, window: MainWindow, album: Path):  # noqa: F811
    open_album(qtbot, window, album)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    loupe = window.loupe
    assert loupe.caption.text().startswith(f"1 / {window.model.rowCount()}")  # where it is in the grid
    assert not loupe.histogram.isVisible()
    qtbot.waitUntil(lambda: loupe.histogram.histogram is not None, timeout=TIMEOUT)
    with Image.open(window.current_item().path) as photo:
        assert loupe.histogram.histogram.pixels == photo.width * photo.height  # a small photo: decoded whole
    qtbot.keyClick(loupe, Qt.Key.Key_H)
    assert loupe.histogram.isVisible() and window.preferences.loupe_histogram
    assert loupe.histogram.clipping_text()
    loupe.histogram.grab()  # paints its curves
    qtbot.keyClick(loupe, Qt.Key.Key_H)
    assert not loupe.histogram.isVisible() and not window.preferences.loupe_histogram
    assert loupe.view.overlay.isNull()
    qtbot.keyClick(loupe, Qt.Key.Key_J)  # where it is clipped, over the photo, the photo's size
    assert window.preferences.loupe_clipping and loupe.view.overlay.size() == loupe.view.pixmap.size()
    loupe.view.grab()
    qtbot.keyClick(loupe, Qt.Key.Key_Right)  # the next photo gets its own
    assert loupe.caption.text().startswith("2 / ")
    qtbot.waitUntil(lambda: not loupe.view.overlay.isNull() and loupe._shown == str(window.current_item().path))
    qtbot.keyClick(loupe, Qt.Key.Key_J)
    assert loupe.view.overlay.isNull() and not window.preferences.loupe_clipping
    qtbot.keyClick(loupe, Qt.Key.Key_Escape)
