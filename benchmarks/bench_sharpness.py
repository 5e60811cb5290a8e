"""What Sort → Sharpness costs: measuring one photo, an album in the background, and re-opening it.

Each photo is measured once (``focus.photo_sharpness``: a reduced decode whose shorter side is at least 512 px,
resized to 512, then focus peaking's share) and kept in the library. Baseline in the same run: the same
measure on a full decode resized to 512 px (what measuring without libjpeg's DCT scaling costs). The album
is measured by ``focus.album_sharpness`` (a few threads; Pillow, numpy and scipy release the GIL) against
one thread measuring photo after photo; re-opening reads the kept shares back. Camera-sized JPEGs are made as
in bench_loupe (a LIVE-C photo upscaled, with sensor-like noise).

    python benchmarks/bench_sharpness.py [--album 24] [--runs 3] [--no-append]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench_loupe import SIZES, SOURCE, camera_jpeg, median_ms
from PIL import Image
from report import publish

from aesthetic_curator.focus import album_sharpness, image_sharpness, photo_sharpness
from aesthetic_curator.library.scanner import scan_album
from aesthetic_curator.library.store import Library


def full_decode_share(path: Path) -> float:
    """The baseline: every pixel decoded, then measured as the app measures (resized to the measuring size)."""
    with Image.open(path) as opened:
        return image_sharpness(opened.convert("RGB"))


def per_photo_rows(folder: Path, runs: int) -> list[str]:
    rows = [
        "| photo | measure (ms) | baseline: full decode (ms) | baseline / now |",
        "|---|---:|---:|---:|",
    ]
    livec = sorted(SOURCE.glob("*"))[:20] if SOURCE.is_dir() else []
    if livec:
        now = median_ms(lambda: [photo_sharpness(p) for p in livec], runs) / len(livec)
        full = median_ms(lambda: [full_decode_share(p) for p in livec], runs) / len(livec)
        rows.append(f"| LIVE-C (500x500), mean of {len(livec)} | {now:.1f} | {full:.1f} | {full / now:.2f}x |")
    for label, size in list(SIZES.items())[:2]:
        path = camera_jpeg(folder, size)
        now = median_ms(lambda p=path: photo_sharpness(p), runs)
        full = median_ms(lambda p=path: full_decode_share(p), runs)
        rows.append(f"| {label} JPEG | {now:.1f} | {full:.1f} | {full / now:.2f}x |")
    return rows


def album_rows(folder: Path, count: int) -> tuple[list[str], float]:
    """The Sort → Sharpness run on ``count`` 12 MP JPEGs; also the seconds per photo in the background."""
    album = folder / "album"
    album.mkdir()
    first = camera_jpeg(folder, SIZES["12 MP (4000x3000)"])
    for n in range(count):  # one camera photo copied: each decode is as costly as a distinct photo's
        shutil.copyfile(first, album / f"IMG_{n:04d}.jpg")
    paths = sorted(album.iterdir())
    started = time.perf_counter()
    for path in paths:
        photo_sharpness(path)
    one_thread = time.perf_counter() - started
    with Library(folder / "library.sqlite3", album) as library:
        library.sync(scan_album(album))
        started = time.perf_counter()
        shares = album_sharpness(library)
        background = time.perf_counter() - started
        started = time.perf_counter()
        again = album_sharpness(library)
        reopened = time.perf_counter() - started
    assert shares == again and len(shares) == count
    workers = min(4, os.cpu_count() or 1)
    rows = [
        "| run | photos | time | per photo | vs one thread |",
        "|---|---:|---:|---:|---:|",
        f"| baseline: one thread, photo after photo | {count} | {one_thread:.2f} s | "
        f"{1000 * one_thread / count:.0f} ms | 1.00x |",
        f"| album_sharpness ({workers} threads, kept in the library) | {count} | {background:.2f} s | "
        f"{1000 * background / count:.0f} ms | {one_thread / background:.2f}x faster |",
        f"| re-opened: read back from the library | {count} | {1000 * reopened:.1f} ms | "
        f"{1e6 * reopened / count:.0f} µs | {one_thread / reopened:.0f}x faster |",
    ]
    return rows, background / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--album", type=int, default=24, help="12 MP photos in the album run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-append", action="store_true", help="print only; do not add to docs/benchmarks.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        single = per_photo_rows(folder, args.runs)
        album, per_photo_s = album_rows(folder, args.album)
    body = [
        f"One photo measured, one thread, median of {args.runs} runs:",
        "",
        *single,
        "",
        f"Sort → Sharpness on an album of {args.album} 12 MP JPEGs (first choice of the sort), then re-opened:",
        "",
        *album,
        "",
        f"At that rate a 20,000-photo album of 12 MP JPEGs is measured in about {20_000 * per_photo_s / 60:.0f} min "
        "in the background, once (the status bar shows its progress; the grid sorts when it ends).",
    ]
    publish("Sort by sharpness: measuring once per photo", body, append=not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
