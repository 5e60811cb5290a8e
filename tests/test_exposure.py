"""The loupe's histogram and clipping warning: exposure.py's numbers, and H in the loupe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from aesthetic_curator.exposure import describe_clipping, histogram
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


def test_h_shows_the_histogram_in_the_loupe_and_is_remembered(qtbot, window: MainWindow, album: Path):  # noqa: F811
    open_album(qtbot, window, album)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    loupe = window.loupe
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
    qtbot.keyClick(loupe, Qt.Key.Key_Escape)
