"""The selected photos' files, handed to the rest of the desktop: open in the default app, show in the file
manager, copy their paths. The grid's context menu (right-click) offers these, and the export's message its
folder; the photos are never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

#: More files than this are not opened at once (a selection of 500 photos would open 500 windows).
MOST_OPENED = 10


def open_in_default_app(paths: Sequence[Path]) -> int:
    """Open the first :data:`MOST_OPENED` photos in the desktop's default app; how many were handed over."""
    opened = [path for path in paths[:MOST_OPENED] if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))]
    return len(opened)


def show_in_folder(paths: Sequence[Path]) -> bool:
    """Open the file manager on the folder of the first photo (portable Qt cannot select the file in it)."""
    return bool(paths) and open_folder(paths[0].parent)


def open_folder(folder: Path) -> bool:
    """The file manager on ``folder`` (an export's destination, a photo's folder)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def copy_paths(paths: Sequence[Path]) -> None:
    """The photos' full paths, one per line, on the clipboard (for a terminal, an editor, a chat)."""
    QGuiApplication.clipboard().setText("\n".join(str(path) for path in paths))
