"""Starting the desktop app: the Qt application, its style and icon, and the main window."""

from __future__ import annotations

import logging
import sys
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from aesthetic_curator import __version__
from aesthetic_curator.gui.main_window import MainWindow


def resource(name: str) -> Path:
    """A file of the ``resources/`` folder, installed as the ``aesthetic_curator.resources`` package."""
    return Path(str(resources.files("aesthetic_curator.resources").joinpath(name)))


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Aesthetic Curator")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Aesthetic Curator")
    app.setDesktopFileName("aesthetic-curator")
    icon = resource("icons/aesthetic-curator.svg")
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    style = resource("style.qss")
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def run(album: Path | None = None) -> int:
    """Open the main window (on ``album``, or the last folder) and run until it closes."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_application()
    window = MainWindow()
    window.show()
    folder = album or window.preferences.last_folder
    if folder is not None and folder.is_dir():
        window.open_album(folder)
    return app.exec()
