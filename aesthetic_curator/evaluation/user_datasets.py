"""Readers for per-user rating datasets (REAL-CUR, Flickr-AES, AADB, a generic CSV, PARA's columns).

Each gives a list of :class:`UserRatings` (one person's scored photos). The layouts are the ones
the paper's authors use: a CSV of ``worker,image_name,score`` rows (header first) and images at
a dataset-specific place, listed in :data:`LAYOUTS`.

``para-columns:PATH`` turns real human judgements without per-rater files into users: every score
column of PARA's ``scores.csv`` (aesthetic and quality means, 6,000 photos) and of ``attributes.csv``
(composition, colour, light, depth of field, content, content preference, willingness to share,
1,500 photos) is one "user", and :data:`PARA_MIXES` add users whose taste mixes a real column with
a liking for one scene category (``semantic``), as a person with a favourite subject would rate.
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
    #: Per image, the standard deviation of one rater's opinion around the score, where the data publishes it.
    noise: dict[Path, float] | None = None


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


PARA_SCORE_COLUMNS = {"aesthetic": "aesthetic", "quality": "quality"}  # scores.csv column -> user name
PARA_ATTRIBUTE_COLUMNS = {
    "compositionScore_mean": "composition",
    "colorScore_mean": "colour",
    "lightScore_mean": "light",
    "dofScore_mean": "depth-of-field",
    "contentScore_mean": "content",
    "contentPreference_mean": "content-preference",
    "willingnessToShare_mean": "willingness-to-share",
}
#: (user name, attributes.csv column, scene category, weight): percentile of the column + weight when the
#: photo is of that category, so the category moves a photo up (or down) by ``weight`` of the range.
PARA_MIXES = (
    ("aesthetic+likes-portraits", "aestheticScore_mean", "portrait", 0.5),
    ("aesthetic+likes-animals", "aestheticScore_mean", "animal", 0.5),
    ("quality+likes-food", "qualityScore_mean", "food", 0.5),
    ("aesthetic+dislikes-buildings", "aestheticScore_mean", "building", -0.5),
)


def _percentiles(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for position, index in enumerate(order):
        ranks[index] = position / max(1, len(values) - 1)
    return ranks


def read_para_columns(root: Path) -> list[UserRatings]:
    """PARA's mean-score columns as users (see the module docstring); images under ``images/``."""
    users: list[UserRatings] = []
    scores_path, attributes_path = root / "scores.csv", root / "attributes.csv"
    if not scores_path.is_file():
        raise RatingsError(f"{root} has no scores.csv (the para-columns layout: scores.csv, attributes.csv, images/)")
    rows = _dict_rows(scores_path)
    for column, name in PARA_SCORE_COLUMNS.items():
        users.append(UserRatings(name, [(root / "images" / r["image"], _number(r, column, scores_path)) for r in rows]))
    if attributes_path.is_file():
        rows = _dict_rows(attributes_path)
        paths = [root / "images" / r["image"] for r in rows]
        for column, name in PARA_ATTRIBUTE_COLUMNS.items():
            spread = column.replace("_mean", "_std")
            noise = {p: _number(r, spread, attributes_path) for p, r in zip(paths, rows)} if spread in rows[0] else None
            users.append(
                UserRatings(name, [(p, _number(r, column, attributes_path)) for p, r in zip(paths, rows)], noise)
            )
        for name, column, category, weight in PARA_MIXES:
            base = _percentiles([_number(r, column, attributes_path) for r in rows])
            mixed = [b + (weight if r.get("semantic") == category else 0.0) for b, r in zip(base, rows)]
            users.append(UserRatings(name, list(zip(paths, mixed))))
    return users


def _dict_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _number(row: dict[str, str], column: str, path: Path) -> float:
    try:
        return float(row[column])
    except (KeyError, TypeError, ValueError):
        raise RatingsError(f"{path}: row {row.get('image', '?')} has no number in column {column}") from None


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
    kinds = [*LAYOUTS, "para-columns"]
    if not sep or kind not in kinds:
        raise RatingsError(f"dataset '{spec}' must look like KIND:PATH with KIND one of {', '.join(kinds)}")
    path = Path(location).expanduser()
    if kind == "para-columns":
        if not path.is_dir():
            raise RatingsError(f"dataset folder {path} does not exist")
        return read_para_columns(path)
    if kind == "csv" and path.is_file():
        root, labels_path = path.parent, path
    else:
        if not path.is_dir():
            raise RatingsError(f"dataset folder {path} does not exist")
        root, labels_path = path, _find_labels(path, labels)
    image_of = LAYOUTS[kind][1]
    users: dict[str, list[tuple[Path, float]]] = defaultdict(list)
    noise: dict[str, dict[Path, float]] = defaultdict(dict)
    with labels_path.open(newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows, None) or []
        with_std = len(header) > 3 and header[3].strip().lower() == "std"  # optional: user,image,score,std
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
            image = image_of(root, user, name, score)
            users[user].append((image, score))
            if with_std and len(row) > 3 and row[3].strip():
                try:
                    noise[user][image] = float(row[3])
                except ValueError:
                    raise RatingsError(f"{labels_path}:{line_no}: std '{row[3]}' is not a number") from None
    if not users:
        raise RatingsError(f"{labels_path} has no ratings")
    return [UserRatings(user, items, noise.get(user)) for user, items in sorted(users.items())]
