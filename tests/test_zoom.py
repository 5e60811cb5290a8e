"""1:1 for a focus check: the reduced decode's scale, the zoom view's frame, and Z or a click in the loupe and
the compare view, which then decode every pixel of the photos shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication

from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.gui.photo_model import PHOTO_ROLE
from aesthetic_curator.gui.zoom_view import ZoomView
from aesthetic_curator.images import decode_image_scaled
from tests.test_gui import TIMEOUT, window  # noqa: F401  (fixtures)

FULL = (2400, 1600)  # the zoom view's photo
CAMERA = (4800, 3200)  # the albums': large enough that a view of the loupe's size gets a reduced decode


def _camera_jpeg(path: Path, seed: int, orientation: int | None = None) -> Path:
    """A 15-megapixel JPEG with fine detail (what a focus check looks at)."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(CAMERA[1] // 8, CAMERA[0] // 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize(CAMERA, Image.Resampling.NEAREST)
    exif = Image.Exif()
    exif[0x0110] = "Test Camera"
    exif.get_ifd(0x8769).update({0x829A: IFDRational(1, 250), 0x829D: IFDRational(56, 10), 0x8827: 800})
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(path, quality=90, exif=exif)
    return path


@pytest.fixture
def big_album(tmp_path: Path) -> Path:
    root = tmp_path / "shoot"
    root.mkdir()
    for index in range(6):
        _camera_jpeg(root / f"DSC_{index:04d}.jpg", seed=index)
    return root


def test_a_reduced_decode_says_how_much_it_was_reduced_also_when_turned_upright(tmp_path: Path):
    plain, turned = _camera_jpeg(tmp_path / "a.jpg", 0), _camera_jpeg(tmp_path / "b.jpg", 1, orientation=6)
    image, scale = decode_image_scaled(plain, min_size=800)
    assert image.size == (1200, 800) and scale == 4.0
    image, scale = decode_image_scaled(turned, min_size=1600)
    assert image.size == (1600, 2400) and scale == 2.0  # upright: the sides swap, the scale does not
    image, scale = decode_image_scaled(plain)
    assert image.size == CAMERA and scale == 1.0
    small = tmp_path / "small.png"
    Image.new("RGB", (300, 200)).save(small)
    assert decode_image_scaled(small, min_size=800)[1] == 1.0


def test_zoom_view_shows_one_file_pixel_per_screen_pixel_from_the_reduced_decode_then_the_full(qtbot):
    view = ZoomView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show_pixmap(QPixmap(1200, 800), scale=2.0)
    assert view.source_rect() == QRectF(0, 0, 1200, 800) and not view.wants_full()  # fitted: all of it
    view.zoomed = True
    assert view.devicePixelRatioF() == 1.0  # offscreen: one point, one screen pixel
    # A 400x300 window of the 2400x1600 file: 200x150 pixels of the half-size decode, drawn twice as large.
    assert view.source_rect() == QRectF(500, 325, 200, 150)
    assert view.target_rect() == QRectF(0, 0, 400, 300)
    assert view.wants_full()
    view.show_full(QPixmap(*FULL))
    assert not view.wants_full()
    assert view.source_rect() == QRectF(1000, 650, 400, 300)  # the middle of the file, at 1:1
    view.centre = QPointF(0.0, 1.0)  # a corner: the window stays inside the photo
    assert view.source_rect() == QRectF(0, 1300, 400, 300)
    view.show_pixmap(QPixmap(100, 80))  # another photo, smaller than the view: at 1:1 it is not magnified
    assert view.full.isNull() and view.target_rect() == QRectF(150, 110, 100, 80)


def test_loupe_zooms_to_every_pixel_with_z_or_a_click_and_keeps_the_zoom_while_flipping(
    qtbot,
    window: MainWindow,  # noqa: F811
    big_album: Path,
):
    from tests.test_gui import open_album

    open_album(qtbot, window, big_album)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    loupe = window.loupe
    view = loupe.view
    qtbot.waitUntil(lambda: QApplication.activeWindow() is loupe, timeout=2000)  # its keys go to it
    qtbot.waitUntil(lambda: not view.pixmap.isNull(), timeout=TIMEOUT)
    assert view.scale > 1.0 and view.pixmap.width() < CAMERA[0]  # fast to flip through: a reduced decode
    assert "1/250 s · f/5.6 · ISO 800 · Test Camera" in loupe.caption.text()  # its shooting details

    qtbot.keyClick(loupe, Qt.Key.Key_Z)
    assert view.zoomed and "1:1" in loupe.caption.text()
    qtbot.waitUntil(lambda: not view.full.isNull(), timeout=TIMEOUT)
    assert (view.full.width(), view.full.height()) == CAMERA

    first_full = view.full
    following = str(window.model.index(1).data(PHOTO_ROLE).path)
    qtbot.waitUntil(lambda: following in loupe.photos, timeout=TIMEOUT)  # the next photo, decoded ahead
    assert loupe.photos.get(following).pixmap.width() < CAMERA[0]  # at about screen size: full decodes are not kept
    qtbot.keyClick(loupe, Qt.Key.Key_Right)  # shown at once, still at 1:1: its own pixels are decoded
    assert window.grid.currentIndex().row() == 1 and loupe._shown == following and view.zoomed
    qtbot.waitUntil(lambda: not view.full.isNull() and view.full.cacheKey() != first_full.cacheKey(), timeout=TIMEOUT)
    assert view.zoomed and loupe._shown == str(window.current_item().path)

    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))  # a click goes back to fitted
    assert not view.zoomed and "1:1" not in loupe.caption.text()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.target_rect().topLeft().toPoint() + QPoint(1, 1))
    assert view.zoomed and view.centre.x() < 0.05 and view.centre.y() < 0.05  # zoomed where clicked
    shown = loupe._shown
    small = min(loupe.photos.get(shown).pixmap.width(), loupe.photos.get(shown).pixmap.height())
    assert small >= view.fit_size()  # the decode fills the view when fitted, and no more than needed…
    loupe.resize(2400, 2000)  # …and a larger loupe gets a larger one
    qtbot.waitUntil(lambda: min(view.pixmap.width(), view.pixmap.height()) > small, timeout=TIMEOUT)
    assert min(view.pixmap.width(), view.pixmap.height()) >= view.fit_size()
    qtbot.keyClick(loupe, Qt.Key.Key_F)  # full screen, and back
    assert loupe.isFullScreen()
    qtbot.keyClick(loupe, Qt.Key.Key_F)
    assert not loupe.isFullScreen()
    qtbot.keyClick(loupe, Qt.Key.Key_Escape)
    assert not loupe.isVisible()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window and window.grid.hasFocus(), timeout=2000)


def test_compare_zoom_decodes_every_pixel_of_both_photos_and_drops_them_with_the_pair(
    qtbot,
    window: MainWindow,  # noqa: F811
    big_album: Path,
):
    from tests.test_gui import open_album
    from tests.test_gui_compare import _open_compare, _wait_until_shown

    open_album(qtbot, window, big_album)
    dialog = _open_compare(qtbot, window)
    left, right = dialog.views
    assert left.scale > 1.0 and right.scale > 1.0
    assert all("1/250 s · f/5.6 · ISO 800" in caption.text() for caption in dialog.captions)  # shooting details
    qtbot.keyClick(dialog, Qt.Key.Key_Z)
    qtbot.waitUntil(lambda: not left.full.isNull() and not right.full.isNull(), timeout=TIMEOUT)
    assert (left.full.width(), right.full.width()) == (CAMERA[0], CAMERA[0])
    assert all(kept.pixmap.width() < CAMERA[0] for kept in dialog.photos._kept.values())  # full ones: the views' only
    qtbot.keyClick(dialog, Qt.Key.Key_Left)  # answered: the next pair, still zoomed, gets its own pixels
    _wait_until_shown(qtbot, dialog)
    assert left.zoomed
    qtbot.waitUntil(lambda: not left.full.isNull() and not right.full.isNull(), timeout=TIMEOUT)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)


def test_the_decode_cache_keeps_the_size_asked_for_never_a_full_decode_and_drops_the_oldest_unwanted(qtbot):
    from PySide6.QtGui import QImage

    from aesthetic_curator.gui.photo_decoder import DecodedPhoto, DecodedPhotos

    size, wanted = [600], {"/a"}
    photos = DecodedPhotos(3, lambda: size[0], lambda: wanted)
    full_arrivals: list[str] = []
    photos.full_arrived.connect(lambda path, pixmap: full_arrivals.append(path))

    def arrive(path: str, width: int, min_size: int | None) -> None:  # as the decoder's worker reports it
        image = QImage(width, width * 2 // 3, QImage.Format.Format_RGB888)
        photos._on_decoded(DecodedPhoto(path, image, CAMERA[0] / width, min_size=min_size))

    photos._requested["/a"] = 600  # as request() records it
    arrive("/a", 900, 600)
    assert photos.get("/a").scale > 1.0
    arrive("/a", CAMERA[0], None)  # a full decode nobody asked for (any more): not kept, not passed on
    assert photos.get("/a").pixmap.width() == 900 and full_arrivals == []
    photos._full_requested.add("/a")
    arrive("/a", CAMERA[0], None)
    assert full_arrivals == ["/a"] and photos.get("/a").pixmap.width() == 900  # for the view only

    size[0] = 1200  # the view grew: decodes asked for before it did still arrive after the new request
    photos.clear()
    photos._requested["/a"] = 1200
    arrive("/a", 900, 600)
    arrive("/a", 1800, 1200)
    arrive("/a", 900, 600)  # older and smaller: does not replace the one asked for
    assert photos.get("/a").pixmap.width() == 1800

    for path in ("/b", "/c", "/d"):  # 3 kept at most, the wanted one always
        arrive(path, 900, 600)
    assert "/a" in photos and "/b" not in photos and "/c" in photos and "/d" in photos


def test_survey_shows_the_selected_photos_rates_the_marked_one_and_zooms_all(qtbot, window: MainWindow, big_album):  # noqa: F811
    from PySide6.QtCore import QItemSelectionModel

    from tests.test_gui import open_album

    open_album(qtbot, window, big_album)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, "n")  # one photo: nothing to compare it with
    assert window.survey is None and "Select 2 to 12 photos" in window.statusBar().currentMessage()
    for row in (1, 2):
        window.grid.selectionModel().select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    qtbot.keyClick(window.grid, "n")
    survey = window.survey
    assert survey.isVisible() and len(survey.views) == 3
    room = window.screen().availableGeometry()  # offscreen: 800x800, less than the survey's preferred 1400x860
    assert survey.width() <= room.width() and survey.height() <= room.height()
    ids = [window.model.index(row).data(PHOTO_ROLE).id for row in range(3)]
    assert [item.id for item in survey.items] == ids  # in the grid's order
    qtbot.waitUntil(lambda: all(not view.pixmap.isNull() for view in survey.views), timeout=TIMEOUT)
    assert all(view.scale > 1.0 for view in survey.views)  # reduced decodes, at the views' size
    qtbot.keyClick(survey, "m")  # focus peaking over each photo (the loupe's setting too)
    qtbot.waitUntil(lambda: all(not view.overlay.isNull() for view in survey.views), timeout=TIMEOUT)
    assert window.preferences.loupe_focus
    shares = [survey.overlays.focus.share(str(item.path)) for item in survey.items]
    sharpest = shares.index(max(shares))
    assert all(f"sharp edges {share:.1%}" in caption.text() for share, caption in zip(shares, survey.captions))
    assert [("SHARPEST" in caption.text()) for caption in survey.captions] == [n == sharpest for n in range(3)]
    qtbot.keyClick(survey, "m")
    assert all(view.overlay.isNull() for view in survey.views) and not window.preferences.loupe_focus
    qtbot.keyClick(survey, "j")  # the clipping overlay over each, as in the loupe
    assert all(not view.overlay.isNull() for view in survey.views) and window.preferences.loupe_clipping
    qtbot.keyClick(survey, "j")
    assert all(view.overlay.isNull() for view in survey.views) and not window.preferences.loupe_clipping

    qtbot.keyClick(survey, Qt.Key.Key_Right)  # the second photo is the one to rate
    qtbot.keyClick(survey, "5")
    qtbot.keyClick(survey, "6")
    assert window.library.ratings()[ids[1]].stars == 5 and window.library.labels() == {ids[1]: "red"}
    assert survey.captions[1].text().startswith("▶") and "★★★★★" in survey.captions[1].text()
    assert "RED LABEL" in survey.captions[1].text() and ids[0] not in window.library.ratings()
    qtbot.keyClick(survey, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # takes the label back
    assert window.library.labels() == {} and "RED" not in survey.captions[1].text()
    qtbot.keyRelease(survey.windowHandle(), Qt.Key.Key_Control)  # QTest leaves Ctrl held

    qtbot.keyClick(survey, Qt.Key.Key_Z)  # every photo at 1:1, each with every pixel
    assert all(view.zoomed for view in survey.views)
    qtbot.waitUntil(lambda: all(not view.full.isNull() for view in survey.views), timeout=TIMEOUT)
    qtbot.keyClick(survey, "n")
    assert not survey.isVisible()
    window.grid.selectAll()  # all six: two rows of three
    window.survey_action.trigger()
    places = [survey._layout.getItemPosition(survey._layout.indexOf(view))[:2] for view in survey.views]
    assert places == [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1), (2, 2)]  # (caption rows between)
    qtbot.keyClick(survey, "n")


def test_select_and_candidate_walks_the_grid_and_lands_on_the_winner(qtbot, window: MainWindow, big_album):  # noqa: F811
    """C: the current photo stays left (the select) while the candidate walks the grid; ↑ promotes it."""
    from PySide6.QtCore import QItemSelectionModel

    from aesthetic_curator.library.store import REJECTED
    from tests.test_gui import open_album

    open_album(qtbot, window, big_album)
    ids = [window.model.index(row).data(PHOTO_ROLE).id for row in range(window.model.rowCount())]
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, "c")
    survey = window.survey

    def shown() -> list[int]:
        return [item.id for item in survey.items]

    assert survey.isVisible() and survey.windowTitle() == "Select and candidate"
    assert shown() == ids[:2] and survey.active == 1 and survey.captions[1].text().startswith("▶")
    qtbot.keyClick(survey, Qt.Key.Key_Right)
    assert shown() == [ids[0], ids[2]]
    qtbot.keyClick(survey, Qt.Key.Key_Left)
    qtbot.keyClick(survey, Qt.Key.Key_Left)  # past the select, round to the grid's last photo
    assert shown() == [ids[0], ids[-1]]
    qtbot.keyClick(survey, "x")  # the rating keys rate the candidate
    assert window.library.ratings()[ids[-1]].flag == REJECTED
    qtbot.keyClick(survey, Qt.Key.Key_Right)  # round again, past the select: the second photo
    qtbot.keyClick(survey, Qt.Key.Key_Right)
    assert shown() == [ids[0], ids[2]]
    qtbot.keyClick(survey, Qt.Key.Key_Up)  # the candidate wins: the select, and the next one the candidate
    assert shown() == [ids[2], ids[3]]
    qtbot.waitUntil(lambda: all(not view.pixmap.isNull() for view in survey.views), timeout=TIMEOUT)
    qtbot.keyClick(survey, Qt.Key.Key_Tab)  # now the select is the one rated
    assert survey.active == 0
    qtbot.keyClick(survey, "5")
    assert window.library.ratings()[ids[2]].stars == 5 and "★★★★★" in survey.captions[0].text()
    qtbot.keyClick(survey, "c")
    assert not survey.isVisible() and window.current_item().id == ids[2]  # back on the winner

    for row in (3, 4):  # with several selected, the candidate walks among them only
        window.grid.selectionModel().select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    window.candidates_action.trigger()  # the menu (offscreen, the closed dialog keeps the window's shortcuts)
    assert survey.isVisible() and shown() == [ids[2], ids[3]]
    qtbot.keyClick(survey, Qt.Key.Key_Right)
    qtbot.keyClick(survey, Qt.Key.Key_Right)
    assert shown() == [ids[2], ids[3]]  # 3 → 4 → (2 is the select) 3
    qtbot.keyClick(survey, Qt.Key.Key_Escape)
