"""Readers for per-user rating datasets (REAL-CUR, Flickr-AES, AADB, a generic CSV).

Each gives a list of :class:`UserRatings` (one person's scored photos). The layouts are the ones
the paper's authors use: a CSV of ``worker,image_name,score`` rows (header first) and images at
a dataset-specific place, listed in :data:`LAYOUTS`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aesthetic_curator.errors import RatingsError


@dataclass
class UserRatings:
    user: str
    items: list[tuple[Path, float]]  # (image path, that user's score)


def _realcur_image(root: Path, user: str, name: str, score: float) -> Path:
    return root / "images" / user / str(int(score)) / name


AADB_IMAGES = "datasetImages_originalSize"

#: kind -> (what it is, where a row's image lives)
LAYOUTS: dict[str, tuple[str, Callable[[Path, str, str, float], Path]]] = {
    "realcur": ("REAL-CUR: images/<worker>/<int(score)>/<name>", _realcur_image),
    "flickr-aes": ("Flickr-AES: 40K/<name>", lambda root, user, name, score: root / "40K" / name),
    "aadb": (
        "AADB: datasetImages_originalSize/<name>",
        lambda root, u, name, s: root / "datasetImages_originalSize" / name,
    ),
    "csv": (
        "any per-user CSV user,image,score; images relative to the CSV's folder",
        lambda root, u, name, s: root / name,
    ),
}


def _find_labels(root: Path, labels: Path | None) -> Path:
    if labels is not None:
        return labels if labels.is_absolute() else root / labels
    candidates = sorted(root.glob("*.csv"))
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise RatingsError(f"cannot tell which CSV in {root} holds the per-user scores ({found}); give --labels FILE")
    return candidates[0]


def read_user_dataset(spec: str, labels: Path | None = None) -> list[UserRatings]:
    """Users of a ``KIND:PATH`` dataset spec (``PATH`` is the dataset root; for ``csv`` it may be the file)."""
    kind, sep, location = spec.partition(":")
    if not sep or kind not in LAYOUTS:
        raise RatingsError(f"dataset '{spec}' must look like KIND:PATH with KIND one of {', '.join(LAYOUTS)}")
    path = Path(location).expanduser()
    if kind == "csv" and path.is_file():
        root, labels_path = path.parent, path
    else:
        if not path.is_dir():
            raise RatingsError(f"dataset folder {path} does not exist")
        root, labels_path = path, _find_labels(path, labels)
    image_of = LAYOUTS[kind][1]
    users: dict[str, list[tuple[Path, float]]] = defaultdict(list)
    with labels_path.open(newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        next(rows, None)  # header
        for line_no, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                raise RatingsError(f"{labels_path}:{line_no}: expected user,image,score")
            user, name = row[0].strip(), row[1].strip()
            try:
                score = float(row[2])
            except ValueError:
                raise RatingsError(f"{labels_path}:{line_no}: score '{row[2]}' is not a number") from None
            users[user].append((image_of(root, user, name, score), score))
    if not users:
        raise RatingsError(f"{labels_path} has no ratings")
    return [UserRatings(user, items) for user, items in sorted(users.items())]
