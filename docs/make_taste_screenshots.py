"""Make docs/taste-panel.png and docs/burst-stacks.png: the taste panel with a slider moved, and bursts stacked.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_taste_screenshots.py ../shared/data/livec-sample

It builds a throw-away album from the LIVE-C sample (the README's photos): 40 single photos and 6 made-up
bursts (each photo plus 4 frames shifted, re-compressed, brighter and turned, 0.2 s apart in EXIF), rates
20 of the singles from their human scores (1-5 stars), personalizes with the built-in model, opens the
taste panel and moves two sliders (the preview), then stacks the bursts in the grid.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
from pathlib import Path

from make_screenshot import settle, start_app, wait_for

log = logging.getLogger("screenshots")
DOCS = Path(__file__).resolve().parent


def make_album(sample: Path, folder: Path) -> dict[str, float]:
    """The album's photos and each one's human score (MOS), bursts taking their source photo's."""
    from PIL import Image, ImageEnhance

    with (sample / "scores.csv").open(newline="") as handle:
        mos = {row["image"]: float(row["mos"]) for row in csv.DictReader(handle)}
    names = sorted(mos)[:46]
    scores = {}
    for n, name in enumerate(names):
        image = Image.open(sample / "images" / name).convert("RGB")
        if n < 6:
            w, h = image.size
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=40)
            frames = [
                image,
                image.crop((int(0.03 * w), 0, w, h)),
                Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"),
                ImageEnhance.Brightness(image).enhance(1.15),
                image.rotate(2, resample=Image.Resampling.BICUBIC),
            ]
            for k, frame in enumerate(frames):
                exif = Image.Exif()
                exif.get_ifd(0x8769)[0x9003] = f"2024:06:01 12:{n:02d}:00"
                exif.get_ifd(0x8769)[0x9291] = f"{20 * k:02d}"
                target = f"burst{n}_{k}.jpg"
                frame.save(folder / target, quality=92, exif=exif)
                scores[target] = mos[name]
        else:
            image.save(folder / f"photo{n:02d}.jpg", quality=92)
            scores[f"photo{n:02d}.jpg"] = mos[name]
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sample", type=Path, help="the LIVE-C sample folder (images/ and scores.csv)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    app, window = start_app("aecur-shots-")
    album = Path(os.environ["AESTHETIC_CURATOR_DATA_DIR"]).parent / "trip"
    album.mkdir()
    mos = make_album(args.sample, album)

    window.open_album(album)
    wait_for(window.album_loaded)
    singles = [p for p in window.library.photos() if Path(p.relpath).name.startswith("photo")][:20]
    for photo in singles:
        window.library.set_rating(photo.id, stars=min(5, max(1, int(mos[Path(photo.relpath).name] // 20) + 1)))
    window._reload_model()
    while window.is_busy():
        app.processEvents()
    window.start_personalization("my taste")
    wait_for(window.ranked)

    window.taste_action.trigger()
    panel = window.taste_panel
    order = sorted(range(len(panel.summary.tasks)), key=lambda i: -panel.summary.overall[i])
    panel.sliders[panel.summary.tasks[order[1]]].setValue(300)  # the second strongest task, tripled
    panel.sliders[panel.summary.tasks[order[-1]]].setValue(0)  # the one most held against, switched off
    settle(5)
    panel.grab().save(str(DOCS / "taste-panel.png"))
    panel.close()

    window.stack_action.trigger()
    wait_for(window.controller.bursts_found)
    window.grid.setCurrentIndex(window.model.index(0))
    settle()
    window.grab().save(str(DOCS / "burst-stacks.png"))
    log.info("wrote %s and %s", DOCS / "taste-panel.png", DOCS / "burst-stacks.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
