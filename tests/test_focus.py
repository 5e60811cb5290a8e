"""Focus peaking: sharp edges are marked, soft ones and noise are not, whatever the edge's contrast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from aesthetic_curator.focus import FOCUS_COLOUR, focus_mask, focus_overlay, focus_share
from aesthetic_curator.gui.main_window import MainWindow
from tests.test_gui import TIMEOUT, album, open_album, window  # noqa: F401  (fixtures)


def _step(low: int, high: int, blur: float = 0.0) -> np.ndarray:
    """A 64x64 grey photo, its left half ``low``, its right half ``high``, optionally defocused."""
    pixels = np.full((64, 64, 3), low, np.uint8)
    pixels[:, 32:] = high
    image = Image.fromarray(pixels)
    return np.asarray(image.filter(ImageFilter.GaussianBlur(blur)) if blur else image)


def image_pixels_alpha(pixmap) -> np.ndarray:
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 4].reshape(image.height(), image.width(), 4)[..., 3]


def test_a_sharp_edge_is_marked_and_the_same_edge_defocused_is_not():
    mask = focus_mask(_step(40, 200))
    assert mask[:, 31:33].all() and not mask[:, :28].any() and not mask[:, 36:].any()
    assert focus_mask(_step(40, 200, blur=2.0)).sum() == 0  # strong but soft: out of focus
    assert focus_mask(_step(100, 140)).any()  # faint but sharp: in focus
    assert not focus_mask(_step(120, 130)).any()  # under the contrast floor: a smooth tone, not an edge
    rng = np.random.default_rng(0)
    noise = np.clip(128 + rng.normal(0, 3, (64, 64, 3)), 0, 255).astype(np.uint8)
    assert not focus_mask(noise).any()  # sensor noise is never "sharp"
    overlay = focus_overlay(_step(40, 200))
    assert tuple(overlay[10, 32]) == FOCUS_COLOUR and overlay[10, 5, 3] == 0


def test_real_photos_lose_their_marks_when_defocused(livec: Path):
    """LIVE-C phone photos (the docs' figures: 400 photos, 5.2% marked on average, 1.8% at a 1 px defocus,
    0.02% at 2 px)."""
    for path in sorted((livec / "images").iterdir())[:8]:
        with Image.open(path) as photo:
            photo = photo.convert("RGB")
            shares = [
                focus_share(np.asarray(photo.filter(ImageFilter.GaussianBlur(s)) if s else photo)) for s in (0, 1, 2)
            ]
        assert shares[0] > shares[1] > shares[2] and shares[2] < 0.005


def test_m_shows_focus_peaking_in_the_loupe_and_is_remembered(qtbot, window: MainWindow, album: Path):  # noqa: F811
    open_album(qtbot, window, album)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    loupe = window.loupe
    qtbot.waitUntil(lambda: loupe._shown == str(window.current_item().path), timeout=TIMEOUT)
    assert loupe.view.overlay.isNull()
    qtbot.keyClick(loupe, Qt.Key.Key_M)  # made on a worker thread, drawn when it arrives
    assert window.preferences.loupe_focus
    qtbot.waitUntil(lambda: not loupe.view.overlay.isNull(), timeout=TIMEOUT)
    assert loupe.view.overlay.size() == loupe.view.pixmap.size()
    share = loupe.overlays.focus.share(str(window.current_item().path))
    assert 0 <= share < 1 and f"sharp edges {share:.1%}" in loupe.caption.text()
    qtbot.keyClick(loupe, Qt.Key.Key_J)  # both at once: the clipping warning over the focus marks
    assert not loupe.view.overlay.isNull() and window.preferences.loupe_clipping
    alpha = image_pixels_alpha(loupe.view.overlay)
    assert 0 < (alpha > 0).mean() < 0.5  # the photo shows through where nothing is marked
    loupe.view.grab()
    qtbot.keyClick(loupe, Qt.Key.Key_Right)  # the next photo gets its own
    qtbot.waitUntil(lambda: loupe._shown == str(window.current_item().path) and not loupe.view.overlay.isNull())
    qtbot.keyClick(loupe, Qt.Key.Key_J)
    qtbot.keyClick(loupe, Qt.Key.Key_M)
    assert loupe.view.overlay.isNull() and not window.preferences.loupe_focus
    qtbot.keyClick(loupe, Qt.Key.Key_M)
    qtbot.keyClick(loupe, Qt.Key.Key_Escape)
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)  # opened again: still on
    assert window.loupe.overlays.focus_shown


def test_the_sharpness_sort_puts_the_defocused_copies_last_and_measures_each_photo_once(
    qtbot,
    window: MainWindow,  # noqa: F811
    livec: Path,
    tmp_path: Path,
    monkeypatch,
):
    from aesthetic_curator import focus
    from aesthetic_curator.gui.photo_model import SortOrder
    from tests.test_gui import grid_ids, open_album

    series = tmp_path / "series"
    series.mkdir()
    source = Image.open(sorted((livec / "images").iterdir())[3]).convert("RGB")
    for name, blur in (("a_soft.jpg", 2.0), ("b_sharp.jpg", 0.0), ("c_softer.jpg", 4.0), ("d_slight.jpg", 0.8)):
        (source.filter(ImageFilter.GaussianBlur(blur)) if blur else source).save(series / name, quality=95)
    (series / "e_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    open_album(qtbot, window, series)
    measured = []
    real = focus.photo_sharpness
    monkeypatch.setattr(focus, "photo_sharpness", lambda path: measured.append(path.name) or real(path))
    window.sort_box.setCurrentIndex(window.sort_box.findData(SortOrder.SHARPNESS))
    qtbot.waitUntil(lambda: not window.model.needs_sharpness(), timeout=TIMEOUT)
    names = {p.id: p.relpath for p in window.library.photos()}
    assert [names[pid] for pid in grid_ids(window)] == [
        "b_sharp.jpg", "d_slight.jpg", "a_soft.jpg", "c_softer.jpg", "e_broken.jpg"
    ]  # fmt: skip
    assert "by sharpness" in window.statusBar().currentMessage() and len(measured) == 5
    window.sort_box.setCurrentIndex(window.sort_box.findData(SortOrder.ALBUM))
    open_album(qtbot, window, series)  # opened again: read from the library, nothing measured twice
    window.sort_box.setCurrentIndex(window.sort_box.findData(SortOrder.SHARPNESS))
    qtbot.waitUntil(lambda: not window.model.needs_sharpness(), timeout=TIMEOUT)
    assert len(measured) == 5 and names[grid_ids(window)[0]] == "b_sharp.jpg"


def test_measuring_the_album_s_sharpness_keeps_each_chunk_measured_before_a_cancel(tmp_path: Path, monkeypatch):
    """A cancel lands between chunks of photos; what was measured is in the library, so the next run measures
    only the rest (a 20,000-photo album cancelled half way does not start over)."""
    from aesthetic_curator import focus
    from aesthetic_curator.errors import Cancelled
    from aesthetic_curator.library.scanner import ScannedFile, ScanResult
    from aesthetic_curator.library.store import Library
    from aesthetic_curator.progress import CancelToken

    folder = tmp_path / "album"
    folder.mkdir()
    names = [f"p{i:02d}.jpg" for i in range(40)]
    for name in names:
        Image.fromarray(_step(40, 200)).save(folder / name)
    measured: list[str] = []
    monkeypatch.setattr(focus, "photo_sharpness", lambda path: measured.append(path.name) or 0.25)
    cancel = CancelToken()
    reports = []

    def progress(report):  # cancel once the first chunk (32 photos) is in
        reports.append((report.stage, report.done, report.total))
        cancel.cancel()

    scanned = [ScannedFile(n, 10, 1000 + i, f"hash{i}", "JPEG") for i, n in enumerate(names)]
    with Library(tmp_path / "lib.sqlite3", folder) as library:
        library.sync(ScanResult(folder, scanned))
        with pytest.raises(Cancelled):
            focus.album_sharpness(library, progress, cancel)
        assert reports == [("measuring sharpness", 32, 40)] and len(library.photo_sharpness()) == 32
        shares = focus.album_sharpness(library)
    assert sorted(measured) == names and set(shares.values()) == {0.25}  # each photo measured once


def test_map_in_chunks_keeps_the_order_and_reports_after_each_chunk():
    from aesthetic_curator.progress import map_in_chunks

    reports = []
    chunks = list(map_in_chunks(lambda n: n * n, range(10), "squaring", reports.append, chunk_size=4, workers=3))
    assert [list(chunk) for chunk, _ in chunks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [results for _, results in chunks] == [[0, 1, 4, 9], [16, 25, 36, 49], [64, 81]]
    assert [(r.done, r.total) for r in reports] == [(4, 10), (8, 10), (10, 10)]


def test_shift_m_steps_focus_peaking_through_its_sensitivities_in_every_view(
    qtbot,
    window: MainWindow,  # noqa: F811
    livec: Path,
    tmp_path: Path,
):
    from aesthetic_curator.focus import FOCUS_LEVELS, focus_mask
    from aesthetic_curator.gui.photo_overlays import image_pixels

    folder = tmp_path / "two"
    folder.mkdir()
    for path in sorted((livec / "images").iterdir())[:2]:
        Image.open(path).convert("RGB").save(folder / f"{path.stem}.jpg", quality=95)
    open_album(qtbot, window, folder)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    loupe, path = window.loupe, str(window.current_item().path)
    qtbot.waitUntil(lambda: loupe._shown == path, timeout=TIMEOUT)
    shares = {}
    for level in ("strict", "loose", "normal"):  # each Shift+M: the next one (and on, from off)
        qtbot.keyClick(loupe, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
        assert loupe.overlays.focus_shown and window.preferences.focus_level == level
        qtbot.waitUntil(lambda: loupe.overlays.focus.share(path) is not None, timeout=TIMEOUT)
        shares[level] = loupe.overlays.focus.share(path)
        expected = focus_mask(image_pixels(loupe.view.pixmap.toImage()), FOCUS_LEVELS[level]).mean()
        assert shares[level] == pytest.approx(expected)  # made at that level, not a stale one
        assert ("(strict)" in loupe.caption.text()) == (level == "strict")
    assert shares["strict"] < shares["normal"] < shares["loose"]
    qtbot.keyClick(loupe, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(loupe, Qt.Key.Key_Escape)
    window.grid.selectAll()
    window.survey_action.trigger()  # N: the survey opens at the sensitivity chosen in the loupe
    assert window.survey.overlays.focus.level == "strict" == window.preferences.focus_level
    qtbot.waitUntil(lambda: "(strict)" in window.survey.captions[0].text(), timeout=TIMEOUT)
