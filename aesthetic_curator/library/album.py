"""Album-level operations the CLI and GUI call: index a folder, import XMP ratings and write them back.

These tie the scanner, the store and the thumbnail cache together so callers never juggle them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library import xmp
from aesthetic_curator.library.scanner import ScanResult, scan_album
from aesthetic_curator.library.store import KEEP, PICKED, REJECTED, Library, Photo, SyncReport
from aesthetic_curator.library.thumbnails import ThumbnailCache, ThumbnailRequest
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)


@dataclass
class IndexSummary:
    scan: ScanResult
    sync: SyncReport
    thumbnails_made: int = 0
    thumbnails_cached: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason) of undecodable photos


def index_album(
    library: Library,
    *,
    thumbnails: ThumbnailCache | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    settle_seconds: float = 0.0,
) -> IndexSummary:
    """Scan the library's album, record what changed, and make missing thumbnails.

    Thumbnail generation doubles as the decode check: photos that cannot be decoded are listed in
    ``unreadable`` with the reason (and get a placeholder thumbnail), once. ``settle_seconds``: photos
    written to within that time are still being copied in and wait for the next scan (``scan_album``).
    """
    scan = scan_album(library.album, library.known_files(), progress, cancel, settle_seconds=settle_seconds)
    check(cancel)
    sync = library.sync(scan)
    summary = IndexSummary(scan, sync)
    if thumbnails is None:
        return summary
    photos = library.photos()
    requests = [ThumbnailRequest(library.absolute_path(p), p.content_hash, p.size, p.mtime_ns) for p in photos]
    results = thumbnails.generate(requests, workers=workers, progress=progress, cancel=cancel)
    for photo, thumb in zip(photos, results):
        if thumb.generated:
            summary.thumbnails_made += 1
        else:
            summary.thumbnails_cached += 1
        if not thumb.ok:
            summary.unreadable.append((photo.relpath, thumb.reason))
    return summary


@dataclass
class XmpImport:
    imported: int = 0  # photos that got a rating
    problems: list[tuple[str, str]] = field(default_factory=list)  # (relpath, what was wrong), reported
    labelled: int = 0  # photos that got a colour label


def import_xmp_ratings(
    library: Library,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> XmpImport:
    """Take star ratings, picks, rejects and colour labels from XMP (sidecar or embedded) as the user's own.

    Photos the user already rated (or labelled) in the app keep their rating (label) unless ``overwrite``. A
    RAW+JPEG pair takes what the JPEG's sidecar says, else what the RAW's says.
    Broken sidecars and out-of-range ratings are listed in ``problems``, never coerced or fatal.
    """
    existing, labels = library.ratings(), library.labels()
    photos = library.photos()
    outcome = XmpImport()
    for index, photo in enumerate(photos, start=1):
        check(cancel)
        take_rating = overwrite or photo.id not in existing
        take_label = overwrite or photo.id not in labels
        for path in _files_of(library, photo) if take_rating or take_label else ():
            lookup = xmp.look_up_rating(path)  # a pair: the JPEG's sidecar first, then the RAW's
            outcome.problems.extend((photo.relpath, problem) for problem in lookup.problems)
            if take_rating and lookup.rating is not None:
                flag = REJECTED if lookup.rating.rejected else PICKED if lookup.rating.picked else KEEP
                library.set_rating(photo.id, stars=lookup.rating.stars, flag=flag, source="xmp")
                outcome.imported += 1
                take_rating = False
            if take_label and lookup.label is not None:
                library.set_label(photo.id, lookup.label)
                outcome.labelled += 1
                take_label = False
        report(progress, "reading XMP", index, len(photos))
    return outcome


@dataclass
class XmpWrite:
    written: int = 0  # sidecars that got the app's rating or label
    unchanged: int = 0  # sidecars that already said it (left untouched, so other tools see no change)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (relpath, why it was not written)


def write_xmp_ratings(
    library: Library,
    naming: str = "photo",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> XmpWrite:
    """Write the stars, picks, rejects and colour labels given in the app into XMP sidecars beside the photos,
    for Lightroom, darktable, digiKam or Capture One to read; the photos themselves are never touched. Picks
    go into digiKam's and Adobe's pick fields (``xmp.PICK_FIELDS``), so they come back on import here too.

    An existing sidecar is updated in place keeping every other field (another tool's edits); a new one is
    named by ``naming`` (:data:`xmp.SIDECAR_NAMINGS`). Photos without stars, a flag or a label are left
    alone (a sidecar's rating or label from elsewhere is never cleared), and so are sidecars exiv2 cannot
    parse (reported). A RAW+JPEG pair's rating goes into both files' sidecars (one, when ``naming`` makes
    them share ``NAME.xmp``). Two photos sharing one ``NAME.xmp`` (IMG_1.PNG and IMG_1.TIF) with different
    ratings: the first keeps it, the second is reported.
    """
    ratings, labels = library.ratings(), library.labels()
    photos = [photo for photo in library.photos() if photo.id in ratings or photo.id in labels]
    outcome = XmpWrite()
    claimed: dict[Path, tuple[dict[str, str], str]] = {}  # sidecar -> (fields written, by which photo)
    for index, photo in enumerate(photos, start=1):
        check(cancel)
        report(progress, "writing XMP", index, len(photos))
        rating, label = ratings.get(photo.id), labels.get(photo.id)
        value = None if rating is None else -1 if rating.flag == REJECTED else rating.stars
        picked = rating is not None and rating.flag == PICKED
        wanted = {"Xmp.xmp.Rating": str(value)} if value is not None else {}
        wanted |= xmp.pick_fields("picked" if picked else None)
        wanted |= {"Xmp.xmp.Label": label.capitalize()} if label is not None else {}
        if not wanted:
            continue
        for source in _files_of(library, photo):  # a RAW+JPEG pair: the RAW's sidecar too (or their shared one)
            sidecar = xmp.sidecar_for_writing(source, naming)
            if sidecar in claimed:
                fields_there, other = claimed[sidecar]
                if fields_there != wanted:
                    problem = f"shares {sidecar.name} with {other}: kept that one's rating"
                    outcome.problems.append((photo.relpath, problem))
                continue
            claimed[sidecar] = (wanted, photo.relpath)
            try:
                present = xmp.sidecar_fields(sidecar)
                pick = xmp.pick_to_write(picked, value == -1, present)
                if all(present.get(key) == text for key, text in (wanted | xmp.pick_fields(pick)).items()):
                    outcome.unchanged += 1
                    continue
                stars = max(value, 0) if value is not None else None
                xmp.write_sidecar(source, stars=stars, rejected=value == -1, sidecar=sidecar, label=label, pick=pick)
            except (xmp.XmpReadError, CuratorError) as exc:
                outcome.problems.append((photo.relpath, str(exc)))
                continue
            outcome.written += 1
    return outcome


def _files_of(library: Library, photo: Photo) -> list[Path]:
    """The photo's file, and a RAW+JPEG pair's RAW after it."""
    companion = library.companion_path(photo)
    return [library.absolute_path(photo)] + ([companion] if companion is not None else [])
