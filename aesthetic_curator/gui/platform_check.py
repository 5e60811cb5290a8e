"""Before Qt starts: can its X11 (xcb) platform plugin load here? If not, say which packages to install.

Without these libraries Qt aborts the process with "Could not load the Qt platform plugin 'xcb'",
a message that names neither the missing library nor the package. This module imports no Qt: it
asks the dynamic loader for each library the plugin needs, the way the plugin itself will.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: Shared libraries Qt 6's xcb platform plugin loads (directly or at start-up), and the Debian/Ubuntu
#: package that ships each.
XCB_LIBRARIES: Mapping[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will pick its X11 plugin: on Linux, unless another platform is chosen or Wayland runs."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def missing_platform_packages(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    loadable: Callable[[str], bool] | None = None,
) -> str | None:
    """One line saying what stops the window from opening, or None when nothing is known to.

    Checks only what Qt would need on this platform; a missing display is reported too, since Qt's
    own message for that is the same abort.
    """
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ, platform):
        return None
    loadable = loadable or _loadable
    missing = [package for soname, package in XCB_LIBRARIES.items() if not loadable(soname)]
    if missing:
        return (
            "the window cannot open: Qt's X11 plugin needs system libraries that are not installed. "
            f"Install them with: sudo apt-get install {' '.join(missing)}"
        )
    if not environ.get("DISPLAY"):
        return (
            "the window cannot open: no display (DISPLAY is not set). Start it from a desktop session, "
            "or run under xvfb-run for a virtual screen"
        )
    return None
