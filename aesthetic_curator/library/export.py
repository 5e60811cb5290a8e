"""Exporting the best photos: copies or hard links into one folder, with their sidecars.

Originals are only ever read. Each file is written under a hidden temporary name and renamed, so
an interrupted export never leaves half a file under a real name; existing files are never
overwritten (clashes get " (2)", " (3)", ... suffixes). Exports are flat: photos from nested
folders land side by side in the destination.
"""

from __future__ import annotations

import csv
import errno
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library import xmp
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".aecur-partial"

#: Percentile bands -> XMP stars when exporting with --xmp: top 10% = 5, next 20% = 4, next 30% = 3,
#: next 25% = 2, the rest = 1 (percentiles over the whole ranking, not just the exported part).
STAR_BANDS: tuple[tuple[float, int], ...] = ((0.10, 5), (0.30, 4), (0.60, 3), (0.85, 2), (1.0, 1))


@dataclass(frozen=True)
class RankedPhoto:
    relpath: str  # relative to the album root, POSIX
    score: float
    rank: int  # 1 = best


@dataclass(frozen=True)
class ExportItem:
    photo: RankedPhoto
    source: Path
    target: Path
    sidecars: tuple[tuple[Path, Path], ...]  # (source sidecar, target sidecar)
    stars: int | None  # XMP stars to write, None without --xmp


@dataclass
class ExportReport:
    items: list[ExportItem]
    dry_run: bool
    written: int = 0
    ranking_csv: Path | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def read_ranking_csv(path: Path) -> list[RankedPhoto]:
    """Read a ``rank`` output (image,score,rank); best first."""
    if not path.is_file():
        raise CuratorError(f"ranking file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        ranking = [RankedPhoto(r["image"], float(r["score"]), int(r["rank"])) for r in rows]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise CuratorError(f"{path}: not a ranking CSV with columns image,score,rank ({exc})") from exc
    return sorted(ranking, key=lambda r: r.rank)


def select_top(
    ranking: Sequence[RankedPhoto],
    top: int | None = None,
    top_percent: float | None = None,
    min_score: float | None = None,
) -> list[RankedPhoto]:
    """The best photos by exactly one criterion: a count, a percentage, or a score threshold."""
    given = [c for c in (top, top_percent, min_score) if c is not None]
    if len(given) != 1:
        raise CuratorError("choose exactly one of --top, --top-percent or --min-score")
    ordered = sorted(ranking, key=lambda r: r.rank)
    if top is not None:
        if top < 1:
            raise CuratorError("--top must be at least 1")
        return ordered[:top]
    if top_percent is not None:
        if not 0 < top_percent <= 100:
            raise CuratorError("--top-percent must be in (0, 100]")
        return ordered[: max(1, math.ceil(len(ordered) * top_percent / 100))]
    return [r for r in ordered if r.score >= min_score]


def stars_for_rank(rank: int, total: int) -> int:
    """XMP stars from the photo's percentile in the whole ranking (see :data:`STAR_BANDS`)."""
    percentile = rank / max(total, 1)
    for limit, stars in STAR_BANDS:
        if percentile <= limit:
            return stars
    return 1


class _NameReserver:
    """Hands out target names that exist neither on disk nor earlier in this export (case-insensitive)."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.taken = {p.name.lower() for p in dest.iterdir()} if dest.is_dir() else set()

    def reserve(self, name: str) -> Path:
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = name, 1
        while candidate.lower() in self.taken or (candidate + ".xmp").lower() in self.taken:
            n += 1
            candidate = f"{stem} ({n}){suffix}"
        self.taken.add(candidate.lower())
        return self.dest / candidate


def plan_export(
    ranking: Sequence[RankedPhoto], selected: Sequence[RankedPhoto], images_root: Path, dest: Path, write_xmp: bool
) -> list[ExportItem]:
    """Decide every target name before writing anything (the dry run shows exactly this)."""
    names = _NameReserver(dest)
    items = []
    for photo in selected:
        source = images_root / photo.relpath
        if not source.is_file():
            raise CuratorError(f"{source} (rank {photo.rank}) no longer exists; rank the album again")
        target = names.reserve(source.name)
        sidecars = []
        for sidecar in xmp.find_sidecars(source):
            long_form = sidecar.name.lower().startswith(source.name.lower() + ".")
            name = target.name + sidecar.suffix if long_form else target.stem + sidecar.suffix
            names.taken.add(name.lower())
            sidecars.append((sidecar, dest / name))
        stars = stars_for_rank(photo.rank, len(ranking)) if write_xmp else None
        items.append(ExportItem(photo, source, target, tuple(sidecars), stars))
    return items


def _copy_atomically(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}{PARTIAL_SUFFIX}")
    try:
        shutil.copy2(source, partial)  # keeps modification time
        if target.exists():
            raise CuratorError(f"{target} appeared during the export; not overwritten")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _link_or_copy(source: Path, target: Path, problems: list[str]) -> None:
    try:
        os.link(source, target)  # atomic and never overwrites
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        problems.append(f"{source.name}: hard link impossible here ({exc.strerror}); copied instead")
        _copy_atomically(source, target)


def export_photos(
    ranking: Sequence[RankedPhoto],
    images_root: Path,
    dest: Path,
    *,
    top: int | None = None,
    top_percent: float | None = None,
    min_score: float | None = None,
    mode: str = "copy",
    write_xmp: bool = False,
    profile_name: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportReport:
    """Copy (or hard-link) the chosen photos and their sidecars to ``dest``; see the module docstring.

    Sidecars are always copied, never linked, so writing XMP stars into an exported sidecar cannot
    change the original's. A ``ranking.csv`` of what was exported is written beside the photos.
    """
    if mode not in ("copy", "hardlink"):
        raise CuratorError(f"unknown export mode '{mode}' (copy or hardlink)")
    started = time.perf_counter()
    images_root = images_root.resolve()
    dest = dest.resolve()
    if dest == images_root:
        raise CuratorError("the destination must not be the album folder itself")
    selected = select_top(ranking, top, top_percent, min_score)
    items = plan_export(ranking, selected, images_root, dest, write_xmp)
    result = ExportReport(items, dry_run)
    if dry_run:
        result.seconds = time.perf_counter() - started
        return result
    dest.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(items, start=1):
        check(cancel)
        if mode == "hardlink":
            _link_or_copy(item.source, item.target, result.problems)
        else:
            _copy_atomically(item.source, item.target)
        for source_sidecar, target_sidecar in item.sidecars:
            _copy_atomically(source_sidecar, target_sidecar)
        if write_xmp:
            sidecar = item.sidecars[0][1] if item.sidecars else None
            xmp.write_sidecar(
                item.target,
                stars=item.stars,
                score=item.photo.score,
                rank=item.photo.rank,
                profile=profile_name,
                sidecar=sidecar,
            )
        result.written += 1
        report(progress, "exporting", index, len(items))
    result.ranking_csv = _NameReserver(dest).reserve("ranking.csv")
    partial = result.ranking_csv.with_name(f".{result.ranking_csv.name}{PARTIAL_SUFFIX}")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "score", "rank", "source"])
        writer.writerows((i.target.name, f"{i.photo.score:.6f}", i.photo.rank, i.photo.relpath) for i in items)
    os.replace(partial, result.ranking_csv)
    result.seconds = time.perf_counter() - started
    return result
