"""Exporting the best photos: copies or hard links into one folder, with their sidecars (a RAW+JPEG pair's
RAW goes beside its JPEG, under the same name); or JPEGs resized for sharing (``share_copy``: no sidecars
copied, since an editor's sidecar would re-apply its edits to the rendered copy).

Originals are only ever read. Each file is written under a hidden temporary name and renamed, so
an interrupted export never leaves half a file under a real name; existing files are never
overwritten (clashes get " (2)", " (3)", ... suffixes). Running the same export again after an
interruption finishes it: photos already there (same content; for a resized copy, a JPEG comment that
names the original's content hash and the size) are recognised, not duplicated, and
temporaries of the killed run are removed. Exports are flat: photos from nested folders land side
by side in the destination. Numbered names (``001_IMG_1234.JPG``) keep the export's order (rank, or the
grid's) in any file browser, slideshow or upload.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aesthetic_curator.atomic import TEMPORARY_SUFFIX, atomic_open, atomic_path
from aesthetic_curator.errors import CuratorError, ImageDecodeError
from aesthetic_curator.library import xmp
from aesthetic_curator.library.scanner import EXPORT_MARKER, fast_hash
from aesthetic_curator.library.share_copy import DEFAULT_LONG_EDGE, same_share_copy, write_share_copy
from aesthetic_curator.paths import confined_relpath, display_path
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report
from aesthetic_curator.raw_pairs import pairs_in, raw_companion

log = logging.getLogger(__name__)

RANKING_LIST_HEADER = ("image", "score", "rank", "source")

#: How photos are exported: the files themselves (copied or hard-linked), or resized JPEGs for sharing.
EXPORT_MODES = ("copy", "hardlink", "jpeg")

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
    already_exported: bool = False  # an earlier run of this export wrote it (found by content)
    companion: tuple[Path, Path] | None = None  # a RAW+JPEG pair's RAW: (source, target beside the JPEG's)
    companion_exported: bool = False


@dataclass
class ExportReport:
    items: list[ExportItem]
    dry_run: bool
    written: int = 0
    ranking_csv: Path | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    resumed: int = 0  # photos found already exported by an earlier, interrupted run


def read_ranking_csv(path: Path) -> list[RankedPhoto]:
    """Read a ``rank`` output (image,score,rank); best first."""
    if not path.is_file():
        raise CuratorError(f"ranking file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            rows = list(csv.DictReader(fh))
        ranking = [RankedPhoto(r["image"], float(r["score"]), int(r["rank"])) for r in rows]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise CuratorError(f"{path}: not a ranking CSV with columns image,score,rank ({exc})") from exc
    return sorted(ranking, key=lambda r: r.rank)


def percent_cutoff(total: int, percent: float) -> int:
    """How many of ``total`` ranked photos the top ``percent`` holds (rounded up): the export's and the grid's rule."""
    return math.ceil(total * percent / 100.0)


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
        return ordered[: max(1, percent_cutoff(len(ordered), top_percent))]
    return [r for r in ordered if r.score >= min_score]


def stars_for_rank(rank: int, total: int) -> int:
    """XMP stars from the photo's percentile in the whole ranking (see :data:`STAR_BANDS`)."""
    percentile = rank / max(total, 1)
    for limit, stars in STAR_BANDS:
        if percentile <= limit:
            return stars
    return 1


#: Exported names are kept short enough that their ``NAME.xmp`` sidecar fits the file-name limit too.
_SIDECAR_ROOM = len(".xmp")


def _fit_name(stem: str, suffix: str, tail: str = "") -> str:
    """``stem + tail + suffix``, with the stem shortened (at a character boundary) until the name and
    its ``.xmp`` sidecar fit the file-name limit."""
    limit = xmp.NAME_MAX_BYTES - _SIDECAR_ROOM
    while stem and len(os.fsencode(stem + tail + suffix)) > limit:
        stem = stem[:-1]
    return stem + tail + suffix


def _same_content(source: Path, existing: Path) -> bool:
    """Whether ``existing`` is already this photo's export (a rerun after an interruption): the same
    file (a hard link) or the same size and content hash. Cheap: at most 128 KiB read from each."""
    try:
        if existing.samefile(source):
            return True
        size = source.stat().st_size
        return existing.stat().st_size == size and fast_hash(existing, size) == fast_hash(source, size)
    except OSError:
        return False


class _NameReserver:
    """Hands out target names that exist neither on disk nor earlier in this export (case-insensitive).

    A name on disk that already holds the same photo is handed out again, marked as done: rerunning
    an interrupted export finishes it instead of duplicating what it had written.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.taken = {p.name.lower() for p in dest.iterdir()} if dest.is_dir() else set()
        self.handed: set[str] = set()

    def reserve(
        self, name: str, source: Path | None = None, same: Callable[[Path, Path], bool] = _same_content
    ) -> tuple[Path, bool]:
        """(target path, already exported there: ``same(source, existing)``)."""
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = _fit_name(stem, suffix), 1
        while True:
            key = candidate.lower()
            if key not in self.handed:
                if source is not None and key in self.taken and same(source, self.dest / candidate):
                    self.handed.add(key)
                    return self.dest / candidate, True
                if key not in self.taken and (candidate + ".xmp").lower() not in self.taken:
                    self.handed.add(key)
                    self.taken.add(key)
                    return self.dest / candidate, False
            n += 1
            candidate = _fit_name(stem, suffix, f" ({n})")


def _readable(path: Path) -> str | None:
    """None when ``path`` is a regular file we can open, else the reason why not."""
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        return "no longer exists"
    except IsADirectoryError:
        return "is a folder, not a photo"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def plan_export(
    ranking: Sequence[RankedPhoto],
    selected: Sequence[RankedPhoto],
    images_root: Path,
    dest: Path,
    write_xmp: bool,
    problems: list[str] | None = None,
    long_edge: int | None = None,
    with_raw: bool = True,
    numbered: bool = False,
) -> list[ExportItem]:
    """Decide every target name before writing anything (the dry run shows exactly this); with ``long_edge``
    the targets are resized JPEGs (``NAME.jpg``) and no sidecars go with them; without ``with_raw`` a RAW+JPEG
    pair's RAW stays behind; ``numbered`` puts each photo's place in ``selected`` before its name.

    Every ranked path must lie inside ``images_root`` (a ranking naming ``/etc/passwd`` or ``../x`` is
    refused whole); photos that vanished or became unreadable since ranking are skipped and noted.
    """
    problems = [] if problems is None else problems
    names = _NameReserver(dest)
    folder_pairs: dict[Path, dict[str, str]] = {}
    digits = max(3, len(str(len(selected))))  # numbered names: 001_ up to 999 photos, wider beyond
    items = []
    for photo in selected:
        try:
            relpath = confined_relpath(images_root, photo.relpath)
        except ValueError:
            raise CuratorError(
                f"the ranking names '{photo.relpath}' (rank {photo.rank}), which is not a photo inside "
                f"{images_root}; export only rankings of this album"
            ) from None
        source = images_root / relpath
        reason = _readable(source)
        if reason is not None:
            problems.append(f"{display_path(relpath)} (rank {photo.rank}) {reason}; skipped")
            continue
        prefix = f"{len(items) + 1:0{digits}d}_" if numbered else ""
        if long_edge is None:
            target, done = names.reserve(prefix + source.name, source)
        else:
            same = functools.partial(same_share_copy, long_edge=long_edge)
            target, done = names.reserve(prefix + Path(source.name).stem + ".jpg", source, same)
        if not target.stem.startswith(prefix + source.stem) and len(os.fsencode(prefix + source.name)) > (
            xmp.NAME_MAX_BYTES - _SIDECAR_ROOM
        ):
            problems.append(f"{display_path(source.name)}: name shortened to {display_path(target.name)}")
        raw, raw_done = None, False
        if long_edge is None and with_raw:  # a resized copy goes alone
            if source.parent not in folder_pairs:
                folder_pairs[source.parent] = pairs_in(source.parent)  # one listing per folder, not per photo
            raw = raw_companion(source, folder_pairs[source.parent])
        files = [(source, target)]
        if raw is not None:
            raw_target, raw_done = names.reserve(target.stem + raw.suffix, raw)
            files.append((raw, raw_target))
        sidecars = _plan_sidecars(files, dest, names) if long_edge is None else ()
        stars = stars_for_rank(photo.rank, len(ranking)) if write_xmp else None
        companion = files[1] if len(files) > 1 else None
        items.append(ExportItem(photo, source, target, sidecars, stars, done, companion, raw_done))
    return items


def _plan_sidecars(
    files: Sequence[tuple[Path, Path]], dest: Path, names: _NameReserver
) -> tuple[tuple[Path, Path], ...]:
    """Each exported file's sidecars (``IMG.JPG.xmp``, ``IMG.xmp``), named after its target in the same form;
    a ``NAME.xmp`` shared by a RAW+JPEG pair goes once."""
    planned: dict[Path, Path] = {}
    for source, target in files:
        for sidecar in xmp.find_sidecars(source):
            long_form = sidecar.name.lower().startswith(source.name.lower() + ".")
            name = target.name + sidecar.suffix if long_form else target.stem + sidecar.suffix
            names.taken.add(name.lower())
            planned.setdefault(sidecar, dest / name)
    return tuple(planned.items())


def _remove_stale_partials(dest: Path) -> int:
    """Temporary files of an export that was killed (ours only: see :func:`atomic.is_temporary`)."""
    removed = 0
    for stale in dest.glob(f".*{TEMPORARY_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()
            removed += 1
    return removed


def _copy_atomically(source: Path, target: Path) -> None:
    try:
        with atomic_path(target, replace=False) as partial:
            shutil.copy2(source, partial)  # keeps modification time
    except FileExistsError as exc:
        raise CuratorError(str(exc)) from None


def _link_or_copy(source: Path, target: Path, problems: list[str]) -> None:
    try:
        os.link(source, target)  # atomic and never overwrites
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        problems.append(f"{source.name}: hard link impossible here ({exc.strerror}); copied instead")
        _copy_atomically(source, target)


def _prepare_destination(dest: Path, images_root: Path) -> None:
    """Create ``dest``; inside the album it is marked (:data:`scanner.EXPORT_MARKER`) before any copy lands, so
    the album's scans, and the app's folder watcher, do not take the copies for new photos of the album."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        if dest.is_relative_to(images_root):
            (dest / EXPORT_MARKER).write_text(
                "Photos exported by Aesthetic Curator: not scanned as part of the album.\n"
            )
    except OSError as exc:
        raise CuratorError(f"cannot create the destination folder {dest} ({exc.strerror or exc})") from exc


def _ranking_list_path(dest: Path) -> Path:
    """``ranking.csv`` of an earlier run of an export into this folder is replaced (it is our own
    list, and the rerun's list covers it); any other file of that name is kept and we pick another."""
    ours = dest / "ranking.csv"
    try:
        with ours.open(encoding="utf-8", errors="replace") as fh:
            if fh.readline().strip() == ",".join(RANKING_LIST_HEADER):
                return ours
    except OSError:
        pass
    return _NameReserver(dest).reserve("ranking.csv")[0]


def export_photos(
    ranking: Sequence[RankedPhoto],
    images_root: Path,
    dest: Path,
    *,
    top: int | None = None,
    top_percent: float | None = None,
    min_score: float | None = None,
    mode: str = "copy",
    long_edge: int = DEFAULT_LONG_EDGE,
    write_xmp: bool = False,
    with_raw: bool = True,
    numbered: bool = False,
    profile_name: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportReport:
    """Copy (or hard-link) the chosen photos and their sidecars to ``dest``, or (``mode="jpeg"``) write them
    as JPEGs at most ``long_edge`` pixels long; see the module docstring.

    Sidecars are always copied, never linked, so writing XMP stars into an exported sidecar cannot
    change the original's. A ``ranking.csv`` of what was exported is written beside the photos. A photo
    that cannot be decoded for a resized copy is skipped and noted; the others go on.
    """
    if mode not in EXPORT_MODES:
        raise CuratorError(f"unknown export mode '{mode}' ({', '.join(EXPORT_MODES)})")
    if mode == "jpeg" and not 16 <= long_edge <= 100_000:
        raise CuratorError(f"the long edge of a resized copy must be 16-100000 pixels, not {long_edge}")
    started = time.perf_counter()
    images_root = images_root.resolve()
    dest = dest.resolve()
    if dest == images_root:
        raise CuratorError("the destination must not be the album folder itself")
    if dest.exists() and not dest.is_dir():
        raise CuratorError(f"the destination {dest} is a file, not a folder")
    selected = select_top(ranking, top, top_percent, min_score)
    problems: list[str] = []
    resized = long_edge if mode == "jpeg" else None
    items = plan_export(ranking, selected, images_root, dest, write_xmp, problems, resized, with_raw, numbered)
    result = ExportReport(items, dry_run, problems=problems)
    if dry_run:
        result.seconds = time.perf_counter() - started
        return result
    _prepare_destination(dest, images_root)
    _remove_stale_partials(dest)
    exported: list[ExportItem] = []
    for index, item in enumerate(items, start=1):
        check(cancel)
        if item.already_exported:
            result.resumed += 1
        elif mode == "hardlink":
            _link_or_copy(item.source, item.target, result.problems)
        elif mode == "jpeg":
            try:
                write_share_copy(item.source, item.target, long_edge)
            except ImageDecodeError as exc:
                result.problems.append(f"{display_path(item.photo.relpath)}: not exported ({exc})")
                continue
        else:
            _copy_atomically(item.source, item.target)
        if item.companion is not None and not item.companion_exported:
            if mode == "hardlink":
                _link_or_copy(*item.companion, result.problems)
            else:
                _copy_atomically(*item.companion)
        for source_sidecar, target_sidecar in item.sidecars:
            if not (item.already_exported and target_sidecar.exists()):
                _copy_atomically(source_sidecar, target_sidecar)
        if write_xmp:
            _write_stars(item, profile_name, result.problems)
        exported.append(item)
        result.written += 1
        report(progress, "exporting", index, len(items))
    result.ranking_csv = _ranking_list_path(dest)
    with atomic_open(result.ranking_csv, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        writer.writerow(RANKING_LIST_HEADER)
        writer.writerows((i.target.name, f"{i.photo.score:.6f}", i.photo.rank, i.photo.relpath) for i in exported)
    result.seconds = time.perf_counter() - started
    return result


def _write_stars(item: ExportItem, profile_name: str | None, problems: list[str]) -> None:
    """XMP stars and score into the exported sidecar (a pair's RAW's too); a sidecar exiv2 cannot parse is
    noted, and the export goes on (the photo itself is already exported, its sidecar copied as it was)."""
    written: set[Path] = set()
    for exported in (item.target, *(item.companion[1:] if item.companion else ())):
        own = (exported.name + ".xmp").lower(), (exported.stem + ".xmp").lower()
        sidecar = next((target for _, target in item.sidecars if target.name.lower() in own), None)
        if sidecar is not None and sidecar in written:
            continue
        try:
            written.add(
                xmp.write_sidecar(
                    exported,
                    stars=item.stars,
                    score=item.photo.score,
                    rank=item.photo.rank,
                    profile=profile_name,
                    sidecar=sidecar,
                )
            )
        except CuratorError as exc:
            problems.append(f"{display_path(exported.name)}: stars not written ({exc})")
