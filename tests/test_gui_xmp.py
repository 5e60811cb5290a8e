"""File → Import Ratings from XMP and File → Write Ratings to XMP Sidecars, from the menus, as a user does."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.gui.photo_model import PHOTO_ROLE
from aesthetic_curator.library import xmp
from tests.test_gui import album, open_album, rate_with_keys, window  # noqa: F401  (fixtures)


def _file_menu_action(main: MainWindow, text: str):
    file_menu = main.menuBar().actions()[0].menu()
    return next(action for action in file_menu.actions() if action.text() == text)


def _photo_digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.jpg"))}


def test_ratings_go_out_to_sidecars_and_come_back_in(qtbot, window: MainWindow, album: Path):  # noqa: F811
    photos_before = _photo_digests(album)
    open_album(qtbot, window, album)
    write = _file_menu_action(window, "Write Ratings to XMP Sidecars…")
    write.trigger()  # nothing rated yet: says so, asks nothing
    assert window.xmp_box is None and "nothing to write" in window.info_box.text()

    rate_with_keys(qtbot, window, ["5", "x", "p"])  # five stars, a reject, a pick without stars
    paths = [window.model.index(row).data(PHOTO_ROLE).path for row in range(4)]
    write.trigger()
    box = window.xmp_box
    assert box.isVisible() and "of 3 photo(s)" in box.text()
    assert box.defaultButton().text() == "New ones as IMG_1234.JPG.xmp"  # darktable's and digiKam's form
    next(b for b in box.buttons() if b.text() == "New ones as IMG_1234.xmp").click()
    assert "Wrote the ratings of 3 photo(s)" in window.info_box.text()
    assert xmp.read_rating(paths[0]).stars == 5 and paths[0].with_suffix(".xmp").is_file()
    assert xmp.read_rating(paths[1]).rejected and xmp.read_rating(paths[2]).picked  # the pick: digiKam's field
    assert window.preferences.sidecar_names == "stem"

    write.trigger()  # the choice is remembered; nothing changed, so no sidecar is rewritten
    assert window.xmp_box.defaultButton().text() == "New ones as IMG_1234.xmp"
    window.xmp_box.defaultButton().click()
    assert "Wrote the ratings of 0 photo(s)" in window.info_box.text()
    assert "3 sidecar(s) already said so" in window.info_box.text()

    xmp.write_sidecar(paths[3], stars=3)  # stars given in another app
    _file_menu_action(window, "Import Ratings from XMP").trigger()
    assert "Imported ratings of 1 photo(s)" in window.info_box.text()  # the photos rated here keep theirs
    assert window.model.index(3).data(PHOTO_ROLE).stars == 3
    assert _photo_digests(album) == photos_before  # the photos themselves never change


def test_colour_label_keys_toggle_undo_filter_and_show_in_the_loupe(qtbot, window: MainWindow, album: Path):  # noqa: F811
    from PySide6.QtCore import Qt

    from aesthetic_curator.gui.photo_model import NO_LABEL, SortOrder
    from tests.test_gui import grid_ids

    open_album(qtbot, window, album)
    rate_with_keys(qtbot, window, ["6", "9", "4"])  # red, blue, four stars
    ids = grid_ids(window)
    assert window.library.labels() == {ids[0]: "red", ids[1]: "blue"}
    assert set(window.library.ratings()) == {ids[2]}  # a label is not a rating: nothing more to personalize with
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, "6")  # the same label's key again takes it off
    assert ids[0] not in window.library.labels() and window.model.item(ids[0]).label is None
    window.undo_rating_action.trigger()
    assert window.library.labels()[ids[0]] == "red" and window.model.item(ids[0]).label == "red"

    window.grid.setCurrentIndex(window.model.index(5))
    qtbot.keyClick(window.grid, "7")  # a yellow one further on
    window.sort_box.setCurrentIndex(window.sort_box.findData(SortOrder.LABEL))  # Lightroom's order, then none
    assert grid_ids(window)[:4] == [ids[0], grid_ids(window)[1], ids[1], ids[2]]
    assert window.model.item(grid_ids(window)[1]).label == "yellow"
    window.undo_rating_action.trigger()
    window.sort_box.setCurrentIndex(window.sort_box.findData(SortOrder.ALBUM))
    window.label_box.setCurrentIndex(window.label_box.findData("blue"))
    assert grid_ids(window) == [ids[1]] and not window.label_box.itemIcon(window.label_box.currentIndex()).isNull()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert "BLUE LABEL" in window.loupe.caption.text()
    qtbot.keyClick(window.loupe, "8")  # in the loupe too
    assert window.library.labels()[ids[1]] == "green" and "GREEN LABEL" in window.loupe.caption.text()
    qtbot.keyClick(window.loupe, Qt.Key.Key_Escape)
    window.grid.grab()  # the tiles paint their label bar
    window.label_box.setCurrentIndex(window.label_box.findData(NO_LABEL))  # the photos still without one
    assert ids[0] not in grid_ids(window) and ids[1] not in grid_ids(window) and ids[2] in grid_ids(window)
