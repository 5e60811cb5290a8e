"""Starting the desktop app: the Qt application, its style and icon, and the main window."""

from __future__ import annotations

import logging
import signal
import sys
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from aesthetic_curator import __version__
from aesthetic_curator.gui.main_window import MainWindow

log = logging.getLogger(__name__)


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
    _close_on_terminal_signals(window)
    log.info("Aesthetic Curator %s is running (Qt platform %s)", __version__, app.platformName())
    return app.exec()


def _close_on_terminal_signals(window: MainWindow) -> QTimer:
    """Ctrl+C in the terminal or a plain ``kill`` closes the window as its close button does.

    Closing cancels running work and waits for it, so nothing is left half-written. Python runs
    signal handlers only between bytecodes, so a slow timer gives it the chance while Qt's loop runs.
    """
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: window.close())
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(200)
    return wake
