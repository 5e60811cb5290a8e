"""Sizing a window to what the screen can show.

The survey, the compare view and the loupe open large (the photos are the point), but a laptop's 1280x800
screen, or a desktop with a taskbar, has less room than their preferred size: a window wider than the
screen hides its right-hand photos, and the survey's fourth column with them.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

#: Share of the screen's free area a window takes at most when its preferred size does not fit.
SCREEN_SHARE = 0.95


def resize_within_screen(window: QWidget, width: int, height: int) -> None:
    """``window.resize(width, height)``, made smaller where the screen it opens on (its parent's) has less room."""
    anchor = window.parentWidget() or window
    screen = anchor.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        width = min(width, int(room.width() * SCREEN_SHARE))
        height = min(height, int(room.height() * SCREEN_SHARE))
    window.resize(width, height)
