"""Reading a ratings CSV (``image,rating``) as given to ``aesthetic-curator personalize``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from aesthetic_curator.errors import RatingsError
from aesthetic_curator.paths import confined_relpath


def read_ratings_csv(path: Path, images_root: Path, column: str = "rating") -> list[tuple[Path, float]]:
    """Return (absolute image path, rating) pairs; any numeric scale, ties allowed.

    Fails with one clear message for a missing file or column, a non-numeric rating, a photo rated
    twice (also when spelt differently, ``a/../a/x`` and ``a/x``), a photo that does not exist under
    ``images_root``, or one outside it (``../x``, an absolute path elsewhere).
    """
    if not path.is_file():
        raise RatingsError(f"ratings file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if "image" not in fields or column not in fields:
                raise RatingsError(
                    f"{path}: needs a header with columns 'image' and '{column}' (found: {', '.join(fields) or 'none'})"
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RatingsError(f"{path}: cannot read ratings ({exc})") from exc
    rated: dict[Path, float] = {}
    missing: list[str] = []
    for line, row in enumerate(rows, start=2):
        name = (row.get("image") or "").strip()
        raw = (row.get(column) or "").strip()
        if not name and not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise RatingsError(f"{path}:{line}: rating '{raw}' is not a number") from None
        if not math.isfinite(value):
            raise RatingsError(f"{path}:{line}: rating '{raw}' is not a finite number")
        try:
            image = images_root / confined_relpath(images_root, name)
        except ValueError:
            raise RatingsError(
                f"{path}:{line}: '{name}' is not a photo inside {images_root}; ratings name photos relative to --images"
            ) from None
        if not image.is_file():
            missing.append(name)
            continue
        if image in rated:
            raise RatingsError(f"{path}:{line}: {name} is rated twice (the same photo as an earlier row)")
        rated[image] = value
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise RatingsError(
            f"{path}: {len(missing)} rated image(s) not found under {images_root}: {', '.join(missing[:3])}{more}"
        )
    if len({*rated.values()}) < 2:
        raise RatingsError(f"{path}: needs at least two different rating values to learn an order")
    return list(rated.items())
