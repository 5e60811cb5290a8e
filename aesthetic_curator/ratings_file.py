"""Reading the judgement files given to ``aesthetic-curator personalize``: ratings (``image,rating``)
and answered comparisons (``better,worse``)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aesthetic_curator.errors import RatingsError
from aesthetic_curator.paths import confined_relpath


def _read_rows(path: Path, columns: tuple[str, ...], what: str) -> list[dict[str, str]]:
    """The CSV's rows as dicts; one clear message for a missing file, missing columns or unreadable text."""
    if not path.is_file():
        raise RatingsError(f"{what} file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if any(column not in fields for column in columns):
                wanted = " and ".join(f"'{c}'" for c in columns)
                found = ", ".join(fields) or "none"
                raise RatingsError(f"{path}: needs a header with columns {wanted} (found: {found})")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RatingsError(f"{path}: cannot read {what} ({exc})") from exc


def _photo(images_root: Path, name: str, where: str, what: str) -> Path:
    """The photo ``name`` names under ``images_root`` (it may not exist); refused when outside it."""
    try:
        return images_root / confined_relpath(images_root, name)
    except ValueError:
        raise RatingsError(
            f"{where}: '{name}' is not a photo inside {images_root}; {what} name photos relative to --images"
        ) from None


def _report_missing(path: Path, missing: list[str], images_root: Path, what: str) -> None:
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise RatingsError(
            f"{path}: {len(missing)} {what} image(s) not found under {images_root}: {', '.join(missing[:3])}{more}"
        )


def read_ratings_csv(
    path: Path, images_root: Path, column: str = "rating", require_order: bool = True
) -> list[tuple[Path, float]]:
    """Return (absolute image path, rating) pairs; any numeric scale, ties allowed.

    Fails with one clear message for a missing file or column, a non-numeric rating, a photo rated
    twice (also when spelt differently, ``a/../a/x`` and ``a/x``), a photo that does not exist under
    ``images_root``, or one outside it (``../x``, an absolute path elsewhere). With ``require_order``
    (no comparisons given beside them) the ratings must not all be equal.
    """
    rows = _read_rows(path, ("image", column), "ratings")
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
        image = _photo(images_root, name, f"{path}:{line}", "ratings")
        if not image.is_file():
            missing.append(name)
            continue
        if image in rated:
            raise RatingsError(f"{path}:{line}: {name} is rated twice (the same photo as an earlier row)")
        rated[image] = value
    _report_missing(path, missing, images_root, "rated")
    if require_order and len({*rated.values()}) < 2:
        raise RatingsError(f"{path}: needs at least two different rating values to learn an order")
    return list(rated.items())


@dataclass
class PairsFile:
    """The answered comparisons of a pairs file, and what was odd about them (kept or dropped)."""

    pairs: list[tuple[Path, Path]]  # (better, worse), each distinct pair once
    duplicates: int = 0  # rows repeating an earlier pair (dropped: a pair counts once)
    in_cycles: int = 0  # pairs inside a cycle of answers (a > b > c > a, or a > b and b > a): kept
    notes: list[str] = field(default_factory=list)  # one line per oddity, for the user


def read_pairs_csv(path: Path, images_root: Path) -> PairsFile:
    """Read ``better,worse`` rows of photo paths relative to ``images_root``.

    Refused with one clear message: a missing file or column, a photo outside ``images_root`` or not
    found there, a photo compared with itself, or no pair at all. Counted and reported, not refused:
    repeated pairs (kept once) and answers that contradict each other in a cycle (kept: people are not
    always consistent, and the rank loss weighs contradicting pairs against each other).
    """
    rows = _read_rows(path, ("better", "worse"), "pairs")
    seen: dict[tuple[Path, Path], int] = {}
    missing: list[str] = []
    duplicates = 0
    for line, row in enumerate(rows, start=2):
        names = [(row.get(column) or "").strip() for column in ("better", "worse")]
        if not any(names):
            continue
        if not all(names):
            raise RatingsError(f"{path}:{line}: a pair needs both a 'better' and a 'worse' photo")
        better, worse = (_photo(images_root, name, f"{path}:{line}", "pairs") for name in names)
        found = [name for name, photo in zip(names, (better, worse)) if not photo.is_file()]
        if found:
            missing.extend(name for name in found if name not in missing)
            continue
        if better == worse:
            raise RatingsError(f"{path}:{line}: {names[0]} is compared with itself")
        if (better, worse) in seen:
            duplicates += 1
            continue
        seen[(better, worse)] = line
    _report_missing(path, missing, images_root, "compared")
    if not seen:
        raise RatingsError(f"{path}: no pairs in the file")
    pairs = list(seen)
    in_cycles = count_pairs_in_cycles(pairs)
    notes = []
    if duplicates:
        notes.append(f"{duplicates} repeated pair(s) in {path.name} counted once")
    if in_cycles:
        notes.append(f"{in_cycles} pair(s) in {path.name} contradict each other in a cycle (kept)")
    return PairsFile(pairs, duplicates, in_cycles, notes)


def count_pairs_in_cycles(pairs: list[tuple[Path, Path]]) -> int:
    """How many (better, worse) pairs lie on a cycle of preferences (both photos in one strong component)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index: dict[Path, int] = {}
    rows = np.array([index.setdefault(better, len(index)) for better, _ in pairs])
    cols = np.array([index.setdefault(worse, len(index)) for _, worse in pairs])
    graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(len(index), len(index)))
    _, component = connected_components(graph, directed=True, connection="strong")
    return int((component[rows] == component[cols]).sum())
