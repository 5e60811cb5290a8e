"""Make docs/screenshot.png: the main window with a ranked album, as a user sees it.

Run under a real X server (``xvfb-run -a .venv/bin/python docs/make_screenshot.py ALBUM --scores CSV``); it uses
a throw-away data folder and fresh settings (so the built-in model, as on a new install), rates 20 photos
from a ``scores.csv`` (mean opinion score -> 1-5 stars), personalizes, ranks, and saves the window.
``--test-bundle`` uses a freshly made test bundle instead.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("screenshot")


def start_app(prefix: str, test_bundle: bool = False):
    """The app as on a new install (throw-away data folder, fresh settings, the built-in model unless
    ``test_bundle``), its main window shown at 1400x900: (QApplication, MainWindow)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["AESTHETIC_CURATOR_DATA_DIR"] = str(work / "data")
    os.environ["AESTHETIC_CURATOR_CACHE_DIR"] = str(work / "cache")
    from aesthetic_curator.engine.test_bundle import make_test_bundle
    from aesthetic_curator.gui.app import create_application
    from aesthetic_curator.gui.main_window import MainWindow
    from aesthetic_curator.gui.preferences import Preferences

    app = create_application(sys.argv[:1])
    preferences = Preferences()
    if test_bundle:
        preferences.bundle_path = make_test_bundle(work / "bundle").path
    preferences.device = "cpu"
    window = MainWindow(preferences)
    window.resize(1400, 900)
    window.show()
    return app, window


def wait_for(signal, timeout_ms: int = 600_000) -> None:
    """Run the event loop until ``signal`` fires (or the timeout)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def settle(rounds: int = 40) -> None:
    """Let queued work (thumbnails, repaints) run for ``rounds`` tenths of a second."""
    from PySide6.QtCore import QEventLoop, QTimer

    for _ in range(rounds):
        loop = QEventLoop()
        QTimer.singleShot(100, loop.quit)
        loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("album", type=Path, help="folder of photos")
    parser.add_argument("--scores", type=Path, required=True, help="CSV with columns image,mos for those photos")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("screenshot.png"))
    parser.add_argument("--rated", type=int, default=20)
    parser.add_argument("--test-bundle", action="store_true", help="a fresh test bundle instead of the built-in model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    app, window = start_app("aecur-shot-", test_bundle=args.test_bundle)
    window.open_album(args.album)
    wait_for(window.album_loaded)
    with args.scores.open(newline="") as handle:
        mos = {row["image"]: float(row["mos"]) for row in csv.DictReader(handle)}
    photos = [p for p in window.library.photos() if Path(p.relpath).name in mos][: args.rated]
    for photo in photos:
        value = mos[Path(photo.relpath).name]
        window.library.set_rating(photo.id, stars=min(5, max(1, int(value // 20) + 1)))
    window._reload_model()
    while window.is_busy():
        app.processEvents()
    window.start_personalization("my taste")
    wait_for(window.ranked)
    window.grid.setCurrentIndex(window.model.index(0))
    settle(50)  # let the visible thumbnails arrive
    window.grab().save(str(args.out))
    log.info("wrote %s", args.out)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
