"""Help → Keyboard Shortcuts and Help → About, opened from the menu as a user would; the grid's right-click menu."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox, QTextBrowser

from aesthetic_curator import __version__
from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.paths import data_dir
from tests.test_gui import window  # noqa: F401  (fixture)


def _help_action(window: MainWindow, text: str):  # noqa: F811
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    return next(a for a in menu.actions() if a.text() == text)


def test_shortcuts_list_every_menu_shortcut_and_the_views_keys(qtbot, window: MainWindow):  # noqa: F811
    _help_action(window, "Keyboard Shortcuts").trigger()
    dialog = window.shortcuts_dialog
    assert dialog.isVisible() and dialog.windowTitle() == "Keyboard Shortcuts"
    shown = dialog.findChild(QTextBrowser).toPlainText()
    for action in (window.personalize_action, window.compare_action, window.stack_action, window.larger_tiles_action):
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys in shown and action.text() in shown
    for line in ("In the loupe", "Z or a click", "In the compare view", "Backspace", "Shift or Ctrl + click"):
        assert line in shown
    dialog.close()


def test_about_names_the_version_the_model_its_credits_and_where_files_live(qtbot, window: MainWindow):  # noqa: F811
    _help_action(window, "About Aesthetic Curator").trigger()
    box: QMessageBox = window.about_box
    assert box.isVisible()
    assert __version__ in box.text() and "Apache-2.0" in box.text() and "LIVE In the Wild" in box.text()
    assert str(data_dir()) in box.text()
    assert "COPYRIGHT NOTICE" in box.detailedText()  # the notice travels with the weights derived from LIVE
    box.close()


def test_right_click_hands_the_photos_files_to_the_desktop(qtbot, window: MainWindow, tmp_path, monkeypatch):  # noqa: F811
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    from aesthetic_curator.engine.synthetic import synthetic_photos
    from aesthetic_curator.gui import photo_files
    from tests.test_gui import open_album

    folder = tmp_path / "album"
    folder.mkdir()
    for index, photo in enumerate(synthetic_photos(3, 32, seed=5)):
        photo.save(folder / f"IMG_{index}.jpg")
    opened: list[str] = []
    monkeypatch.setattr(photo_files.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    open_album(qtbot, window, folder)
    assert window.grid.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    menu = [action.text() for action in window.grid.actions() if not action.isSeparator()]
    assert menu == ["Loupe", "Open in Default App", "Show in Folder", "Copy Path"]
    window.grid.selectAll()
    window.open_file_action.trigger()
    window.show_in_folder_action.trigger()
    window.copy_path_action.trigger()
    files = sorted(str(path) for path in folder.resolve().glob("*.jpg"))
    assert sorted(opened[:3]) == files and opened[3] == str(folder.resolve())
    assert sorted(QGuiApplication.clipboard().text().splitlines()) == files
    assert sorted(path.name for path in folder.iterdir()) == ["IMG_0.jpg", "IMG_1.jpg", "IMG_2.jpg"]  # untouched
