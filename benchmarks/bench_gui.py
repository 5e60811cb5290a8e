"""Benchmark of the desktop app's grid on a large album: open, scroll, and how fast thumbnails fill in.

Makes N small JPEGs (default 20,000), opens them in the real main window (offscreen unless a display
is set), then scrolls from top to bottom in steps, timing each step (layout + paint of the visible
tiles + queueing their thumbnails); re-opens it, and copies photos into it while open (the folder watcher:
how long until they show, the background re-scan and the grid's reload). Prints a table and appends it to
docs/benchmarks.md.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py --photos 20000
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from report import publish

log = logging.getLogger("bench_gui")


def make_album(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"day{index // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        shade = (index * 37 % 255, index * 91 % 255, index * 53 % 255)
        Image.new("RGB", (96, 64), shade).save(folder / f"IMG_{index:05d}.jpg", quality=80)


def watch_copy_in(window, album: Path, count: int) -> tuple[float, float, float]:
    """Copy ``count`` photos into a new folder of the open (watched) album, one by one as a card import does;
    (seconds from the last copy until the grid shows them, the re-scan's seconds, the grid reload's seconds)."""
    from PySide6.QtCore import QEventLoop

    timings: dict[str, float] = {}
    reload_model = window._reload_model

    def timed_reload() -> None:
        began = time.perf_counter()
        reload_model()
        timings["reload"] = time.perf_counter() - began

    window._reload_model = timed_reload
    window.controller.task_started.connect(lambda name: timings.setdefault("scan started", time.perf_counter()))
    window.controller.scanned.connect(lambda _: timings.setdefault("scanned", time.perf_counter()))
    before = window.model.rowCount()
    loop = QEventLoop()
    window.album_loaded.connect(loop.quit)
    source = sorted(album.glob("day00/*.jpg"))[:count]
    (album / "card2").mkdir()
    for index, photo in enumerate(source):
        (album / "card2" / f"NEW_{index:04d}.jpg").write_bytes(photo.read_bytes())
    copied = time.perf_counter()
    timings.clear()
    loop.exec()
    shown = time.perf_counter() - copied
    assert window.model.rowCount() == before + count
    return shown, timings["scanned"] - timings["scan started"], timings["reload"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=200, help="scroll steps from top to bottom")
    parser.add_argument("--copied", type=int, default=50, help="photos copied into the open album (the watcher)")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="aecur-bench-gui-"))
    os.environ["AESTHETIC_CURATOR_DATA_DIR"] = str(work / "data")
    os.environ["AESTHETIC_CURATOR_CACHE_DIR"] = str(work / "cache")
    album = work / "album"
    started = time.perf_counter()
    make_album(album, args.photos)
    log.info("made %d photos in %.1fs", args.photos, time.perf_counter() - started)

    from PySide6.QtCore import QEventLoop, QTimer

    from aesthetic_curator.gui.app import create_application
    from aesthetic_curator.gui.main_window import MainWindow
    from aesthetic_curator.gui.preferences import Preferences

    app = create_application([])
    window = MainWindow(Preferences(work / "settings.ini"))
    window.resize(1400, 900)
    window.show()
    loop = QEventLoop()
    window.album_loaded.connect(loop.quit)
    started = time.perf_counter()
    window.open_album(album)
    shown_from_library = time.perf_counter() - started  # a re-open shows the known photos at once
    loop.exec()
    first_scan = time.perf_counter() - started
    assert window.model.rowCount() == args.photos

    bar = window.grid.verticalScrollBar()
    step_ms = []
    for step in range(args.steps + 1):
        value = bar.maximum() * step // args.steps
        began = time.perf_counter()
        bar.setValue(value)
        window.grid.viewport().repaint()
        app.processEvents()
        step_ms.append((time.perf_counter() - began) * 1000)
    settle = QEventLoop()
    QTimer.singleShot(2000, settle.quit)
    settle.exec()
    made = sum(1 for _ in (work / "cache" / "thumbnails").rglob("*.jpg"))
    window.close()

    window = MainWindow(Preferences(work / "settings.ini"))
    window.show()
    started = time.perf_counter()
    window.open_album(album)
    reopen = time.perf_counter() - started
    rows_at_once = window.model.rowCount()
    loop = QEventLoop()
    window.album_loaded.connect(loop.quit)
    loop.exec()
    watched = watch_copy_in(window, album, args.copied)
    window.close()

    ordered = sorted(step_ms)
    p95, worst = ordered[int(0.95 * len(ordered))], ordered[-1]
    publish(
        f"Desktop grid: {args.photos:,} photos",
        [
            "| measure | value |",
            "|---|---|",
            f"| first open: grid filled after the scan | {first_scan:.1f} s |",
            f"| re-open: photos shown from the library before the re-scan | {rows_at_once:,} in {reopen:.2f} s |",
            f"| scroll step (layout + paint + queue thumbnails), median | {statistics.median(step_ms):.1f} ms |",
            f"| scroll step, 95th percentile / worst | {p95:.1f} / {worst:.1f} ms |",
            f"| thumbnails made while scrolling {args.steps} screens (+2 s) | {made:,} |",
            f"| {args.copied} photos copied into the open album: shown after the last copy | {watched[0]:.1f} s |",
            f"| ... of which the background re-scan / the grid's reload on the UI thread | "
            f"{watched[1]:.2f} s / {watched[2] * 1000:.0f} ms |",
            "",
            f"Opening with an empty library took {shown_from_library:.2f} s before the scan started.",
        ],
        append=not args.no_append,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
