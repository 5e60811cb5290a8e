"""Benchmark of burst grouping on a 20,000-photo album (bursts.py).

Made-up shooting days: single photos seconds to minutes apart, 20 % of them in bursts of 3-15 frames
0.1-0.5 s apart, one 500-frame burst, and a block of 2,000 photos copied without EXIF that share one
file time. Measured: grouping alone (the app's capped comparison) against comparing every pair inside the
time gap (the obvious rule, same groups) in the same run; the album's bursts re-read from a library that
already holds every photo's moment (what reopening an album costs); and reading one photo (EXIF time +
perceptual hash) from real LIVE-C JPEGs and from camera-sized ones. Prints a Markdown table and appends it
to docs/benchmarks.md.

    python benchmarks/bench_bursts.py --photos 20000
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from report import publish

from aesthetic_curator.bursts import (
    BURST_GAP_SECONDS,
    HASH_DISTANCE,
    album_bursts,
    group_bursts,
    hash_distance,
    read_moment,
)
from aesthetic_curator.library.photo_features import PhotoMoment
from aesthetic_curator.library.store import Library

log = logging.getLogger("bench_bursts")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "livec-sample" / "images"


def shooting_days(count: int, seed: int = 0) -> tuple[list[PhotoMoment], int]:
    """Moments of ``count`` photos and the number of bursts planted among them."""
    rng = random.Random(seed)
    moments: list[PhotoMoment] = []
    now, planted = 0.0, 0

    def add(taken: float, phash: int) -> None:
        moments.append(PhotoMoment(len(moments) + 1, taken, "exif", phash))

    scene = rng.getrandbits(64)
    for _ in range(500):
        add(now, scene ^ (1 << rng.randrange(64)))
        now += 0.1
    planted += 1
    same_time = now + 600
    for _ in range(2000):
        add(same_time, rng.getrandbits(64))
    now = same_time + 600
    while len(moments) < count:
        now += rng.expovariate(1 / 40)
        scene = rng.getrandbits(64)
        if rng.random() < 0.2 / 9:  # bursts hold about 20 % of the photos (mean 9 frames)
            frames = rng.randint(3, 15)
            planted += 1
            for _ in range(frames):
                add(now, scene ^ sum(1 << rng.randrange(64) for _ in range(rng.randint(0, 6))))
                now += rng.uniform(0.1, 0.5)
        else:
            add(now, scene)
    return moments[:count], planted


def every_pair_in_the_gap(moments: list[PhotoMoment]) -> int:
    """The baseline rule: compare each photo with every earlier one inside the gap; the number of links."""
    ordered = sorted(moments, key=lambda m: (m.taken, m.photo_id))
    links = 0
    for i, moment in enumerate(ordered):
        j = i - 1
        while j >= 0 and moment.taken - ordered[j].taken <= BURST_GAP_SECONDS:
            links += hash_distance(moment.phash, ordered[j].phash) <= HASH_DISTANCE
            j -= 1
    return links


def timed(function, repeats: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def library_with_moments(folder: Path, moments: list[PhotoMoment]) -> Library:
    library = Library(folder / "library.sqlite3", folder)
    with library.transaction() as db:
        db.executemany(
            "INSERT INTO photos (id, relpath, size, mtime_ns, content_hash, format, added_at, updated_at) "
            "VALUES (?, ?, 1, 0, ?, 'JPEG', 0, 0)",
            ((m.photo_id, f"IMG_{m.photo_id:05d}.jpg", f"h{m.photo_id}") for m in moments),
        )
    library.store_photo_moments((f"h{m.photo_id}", m) for m in moments)
    return library


def grid_refresh(library: Library, bursts) -> tuple[float, float, int]:
    """Seconds the grid's model takes to refresh all rows flat and with bursts stacked, and the tiles shown."""
    from PySide6.QtCore import QCoreApplication

    from aesthetic_curator.gui.photo_model import PhotoListModel

    _app = QCoreApplication.instance() or QCoreApplication([])
    model = PhotoListModel()
    model.load(library)
    model.set_bursts(bursts, stack=False)
    flat_s, _ = timed(model.refresh)
    model.stack_bursts = True
    stacked_s, _ = timed(model.refresh)
    return flat_s, stacked_s, model.rowCount()


def per_photo_read_ms(paths: list[Path]) -> float:
    started = time.perf_counter()
    for n, path in enumerate(paths):
        read_moment(n, path, 0)
    return 1000 * (time.perf_counter() - started) / len(paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    moments, planted = shooting_days(args.photos)
    grouping_s, bursts = timed(lambda: group_bursts(moments))
    baseline_s, _ = timed(lambda: every_pair_in_the_gap(moments), repeats=1)
    rows = [
        "| what | photos | time | per photo | vs every pair in the gap |",
        "|---|---:|---:|---:|---:|",
        f"| group bursts (capped neighbours) | {len(moments):,} | {grouping_s:.3f} s | "
        f"{1e6 * grouping_s / len(moments):.1f} µs | {baseline_s / grouping_s:.1f}x faster |",
        f"| baseline: every pair in the {BURST_GAP_SECONDS:g} s gap | {len(moments):,} | {baseline_s:.3f} s | "
        f"{1e6 * baseline_s / len(moments):.1f} µs | 1.0x |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        library = library_with_moments(Path(tmp), moments)
        reopen_s, report = timed(lambda: album_bursts(library))
        flat_s, stacked_s, tiles = grid_refresh(library, report.bursts)
        library.close()
    rows.append(
        f"| album bursts from the library (all moments kept) | {len(moments):,} | {reopen_s:.3f} s | "
        f"{1e6 * reopen_s / len(moments):.1f} µs | {baseline_s / reopen_s:.1f}x faster |"
    )
    rows += [
        "",
        f"The grid's model refreshing its {len(moments):,} rows (sort + filter, as on every view change):",
        "",
        "| grid refresh | rows shown | time | vs no stacks |",
        "|---|---:|---:|---:|",
        f"| no stacks (baseline) | {len(moments):,} | {1000 * flat_s:.1f} ms | 1.00x |",
        f"| bursts stacked | {tiles:,} | {1000 * stacked_s:.1f} ms | {stacked_s / flat_s:.2f}x |",
    ]
    livec = sorted(SHARED.glob("*.bmp"))[:40] or sorted(SHARED.glob("*"))[:40]
    read_rows = []
    if livec:
        read_rows.append(f"| read one LIVE-C photo (500x500) | {len(livec)} | {per_photo_read_ms(livec):.1f} ms |")
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        big = []
        for n in range(6):
            small = Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
            path = Path(tmp) / f"big{n}.jpg"
            small.resize((4000, 3000), Image.Resampling.BICUBIC).save(path, quality=92)
            big.append(path)
        big_ms = per_photo_read_ms(big)
        read_rows.append(f"| read one 4000x3000 JPEG (DCT-scaled decode) | {len(big)} | {big_ms:.1f} ms |")
    found = len(bursts.groups)
    body = [
        f"Made-up album: {len(moments):,} photos, {planted} planted bursts (one of 500 frames), 2,000 photos "
        f"sharing one timestamp; found {found} bursts, {sum(map(len, bursts.groups)):,} photos in them "
        f"(re-read from the library: {len(report.bursts.groups)}).",
        "",
        *rows,
        "",
        "Reading a photo for grouping (EXIF time + perceptual hash), once per photo, one thread:",
        "",
        "| what | photos | per photo |",
        "|---|---:|---:|",
        *read_rows,
    ]
    publish("Burst grouping", body, append=not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
