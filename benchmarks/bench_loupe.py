"""The loupe's decode costs: what flipping to a photo waits for, and what 1:1 costs.

The loupe shows a reduced decode (libjpeg's DCT scaling) whose shorter side is at least the view's shorter
side (760 px in its default window: a fitted photo's shorter side is never longer); before 2026-12-07 it
asked for the view's longer side (1,078 px), measured here as the baseline. It decodes the grid's next and
previous photos ahead, so flipping onto a decoded-ahead photo waits for none of it; 1:1 decodes every pixel
of the photo shown; focus peaking (M) is measured on the loupe's decode, on its own worker. Camera-sized JPEGs are
made from a LIVE-C photo (upscaled, with sensor-like noise so the entropy coder has real work), with EXIF.
Median of several runs, one thread, as the loupe's decode worker runs.

    python benchmarks/bench_loupe.py [--runs 5] [--no-append]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage
from report import publish

from aesthetic_curator.focus import focus_mask
from aesthetic_curator.images import decode_image_scaled
from aesthetic_curator.photo_exif import shooting_details

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "livec-sample" / "images"
SIZES = {"12 MP (4000x3000)": (4000, 3000), "24 MP (6000x4000)": (6000, 4000), "45 MP (8192x5464)": (8192, 5464)}
LOUPE_VIEW = (1078, 760)  # the loupe's photo area in its default 1100x800 window


def camera_jpeg(folder: Path, size: tuple[int, int]) -> Path:
    source = sorted(SOURCE.glob("*"))[0] if SOURCE.is_dir() else None
    image = Image.open(source).convert("RGB") if source else Image.new("RGB", (500, 375), (120, 110, 90))
    pixels = np.asarray(image.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(0).normal(0, 6, pixels.shape).astype(np.int16)
    exif = Image.Exif()
    exif[0x0110] = "Bench Camera"
    exif.get_ifd(0x8769).update({0x829A: 1 / 250, 0x829D: 5.6, 0x8827: 400})
    path = folder / f"{size[0]}x{size[1]}.jpg"
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(path, quality=92, exif=exif)
    return path


def median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def to_qimage(path: Path, min_size: int | None) -> None:
    """The decode worker's whole job: decode, then the QImage the UI thread turns into a pixmap."""
    image, _ = decode_image_scaled(path, min_size)
    data = image.tobytes("raw", "RGB")
    QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-append", action="store_true", help="print only; do not add to docs/benchmarks.md")
    args = parser.parse_args(argv)
    rows = [
        "| photo | loupe decode (ms) | before: longer side (ms) | before / now | full decode, 1:1 (ms) | "
        "full / loupe | shooting details (ms) | focus peaking (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for label, size in SIZES.items():
            path = camera_jpeg(Path(folder), size)
            reduced = median_ms(lambda p=path: to_qimage(p, min(LOUPE_VIEW)), args.runs)
            before = median_ms(lambda p=path: to_qimage(p, max(LOUPE_VIEW)), args.runs)
            full = median_ms(lambda p=path: to_qimage(p, None), args.runs)
            details = median_ms(lambda p=path: shooting_details(p), args.runs)
            pixels = np.asarray(decode_image_scaled(path, min(LOUPE_VIEW))[0])
            peaking = median_ms(lambda p=pixels: focus_mask(p), args.runs)
            rows.append(
                f"| {label} | {reduced:.0f} | {before:.0f} | {before / reduced:.1f}x | {full:.0f} | "
                f"{full / reduced:.1f}x | {details:.1f} | {peaking:.0f} ({pixels.shape[1]}x{pixels.shape[0]}) |"
            )
    rows += [
        "",
        f"Median of {args.runs} runs on one thread (decode + QImage, the decode worker's job). The loupe's decode is "
        "what flipping onto a photo waits for when it was not decoded ahead (the next and previous are, so stepping "
        "through a series waits for none); the full decode is what 1:1 adds (the reduced one, "
        "magnified, shows meanwhile). `python benchmarks/bench_loupe.py`.",
    ]
    publish("Loupe: reduced decode, decode-ahead and 1:1", rows, not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
