"""Benchmark of scanning and thumbnailing large JPEGs: full decode vs reduced-scale (DCT) decode.

Generates a folder of camera-sized JPEGs (default 4000x3000), then measures scan throughput
(walk + fast hash), single-threaded thumbnail throughput with full and reduced-scale decoding, and
the whole parallel index (scan + thumbnails) as the app runs it. Prints a Markdown table and
appends it to docs/benchmarks.md.

    python benchmarks/bench_library.py --count 24
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from report import publish

from aesthetic_curator.images import decode_image
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.scanner import scan_album
from aesthetic_curator.library.store import Library
from aesthetic_curator.library.thumbnails import ThumbnailCache

log = logging.getLogger("bench_library")


def make_photos(folder: Path, count: int, width: int, height: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        small = rng.integers(0, 255, size=(height // 100, width // 100, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
        noise = rng.normal(0, 6, size=(height, width, 1))
        array = np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f"IMG_{i:04d}.jpg", quality=92)


def thumbnails_per_second(paths: list[Path], reduced: bool, size: int = 256) -> float:
    started = time.perf_counter()
    for path in paths:
        image = decode_image(path, min_size=size if reduced else None)
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return len(paths) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        album = Path(tmp) / "album"
        album.mkdir()
        log.info("generating %d %dx%d JPEGs ...", args.count, args.width, args.height)
        make_photos(album, args.count, args.width, args.height)
        megabytes = sum(p.stat().st_size for p in album.iterdir()) / 1e6
        paths = sorted(album.iterdir())
        started = time.perf_counter()
        scan_album(album)
        scan_rate = args.count / (time.perf_counter() - started)
        full = thumbnails_per_second(paths, reduced=False)
        reduced = thumbnails_per_second(paths, reduced=True)
        with Library(Path(tmp) / "lib.sqlite3", album) as library:
            cache = ThumbnailCache(Path(tmp) / "thumbs")
            started = time.perf_counter()
            index_album(library, thumbnails=cache)
            pipeline = args.count / (time.perf_counter() - started)
    publish(
        f"Library: scan + thumbnails of {args.count} {args.width}x{args.height} JPEGs",
        [
            f"{megabytes:.0f} MB of JPEGs; 256 px thumbnails",
            "",
            "| stage | images/s |",
            "|---|---|",
            f"| scan (walk + fast content hash) | {scan_rate:.0f} |",
            f"| thumbnail, full decode, 1 thread | {full:.2f} |",
            f"| thumbnail, reduced-scale JPEG decode, 1 thread | {reduced:.2f} ({reduced / full:.1f}x full) |",
            f"| whole index as the app runs it (scan + parallel reduced-scale thumbnails) | {pipeline:.2f} |",
        ],
        append=not args.no_append,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
