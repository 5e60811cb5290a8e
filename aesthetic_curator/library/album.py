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
from aesthetic_curator.library.store import KEEP, REJECTED, Library, SyncReport
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
) -> IndexSummary:
    """Scan the library's album, record what changed, and make missing thumbnails.

    Thumbnail generation doubles as the decode check: photos that cannot be decoded are listed in
    ``unreadable`` with the reason (and get a placeholder thumbnail), once.
    """
    scan = scan_album(library.album, library.known_files(), progress, cancel)
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


def import_xmp_ratings(
    library: Library,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> XmpImport:
    """Take star ratings and rejects from XMP (sidecar or embedded) as the user's own ratings.

    Photos the user already rated in the app keep their rating unless ``overwrite``. Broken
    sidecars and out-of-range ratings are listed in ``problems``, never coerced or fatal.
    """
    existing = library.ratings()
    photos = library.photos()
    outcome = XmpImport()
    for index, photo in enumerate(photos, start=1):
        check(cancel)
        if photo.id in existing and not overwrite:
            continue
        lookup = xmp.look_up_rating(library.absolute_path(photo))
        outcome.problems.extend((photo.relpath, problem) for problem in lookup.problems)
        if lookup.rating is not None:
            flag = REJECTED if lookup.rating.rejected else KEEP
            library.set_rating(photo.id, stars=lookup.rating.stars, flag=flag, source="xmp")
            outcome.imported += 1
        report(progress, "reading XMP", index, len(photos))
    return outcome



@dataclass
class XmpWrite:
    written: int = 0  # sidecars that got the app's rating
    unchanged: int = 0  # sidecars that already said it (left untouched, so other tools see no change)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (relpath, why it was not written)


def write_xmp_ratings(
    library: Library,
    naming: str = "photo",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> XmpWrite:
    """Write the stars and rejects given in the app into XMP sidecars beside the photos, for Lightroom,
    darktable, digiKam or Capture One to read; the photos themselves are never touched.

    An existing sidecar is updated in place keeping every other field (another tool's edits); a new one is
    named by ``naming`` (:data:`xmp.SIDECAR_NAMINGS`). Photos without stars or a reject are left alone (a
    sidecar's rating from elsewhere is never cleared), and so are sidecars exiv2 cannot parse (reported). Two
    photos sharing one ``NAME.xmp`` (IMG_1.JPG and IMG_1.CR3) with different ratings: the first keeps it,
    the second is reported.
    """
    ratings = library.ratings()
    photos = [photo for photo in library.photos() if photo.id in ratings]
    outcome = XmpWrite()
    claimed: dict[Path, tuple[int, str]] = {}  # sidecar -> (rating written, by which photo)
    for index, photo in enumerate(photos, start=1):
        check(cancel)
        report(progress, "writing XMP", index, len(photos))
        rating = ratings[photo.id]
        value = -1 if rating.flag == REJECTED else rating.stars
        if value is None:
            continue  # a pick without stars: XMP has no standard field for it
        source = library.absolute_path(photo)
        sidecar = xmp.sidecar_for_writing(source, naming)
        if sidecar in claimed:
            value_there, other = claimed[sidecar]
            if value_there != value:
                outcome.problems.append((photo.relpath, f"shares {sidecar.name} with {other}: kept that one's rating"))
            continue
        claimed[sidecar] = (value, photo.relpath)
        try:
            if xmp.sidecar_rating(sidecar) == str(value):
                outcome.unchanged += 1
                continue
            xmp.write_sidecar(source, stars=max(value, 0), rejected=value < 0, sidecar=sidecar)
        except (xmp.XmpReadError, CuratorError) as exc:
            outcome.problems.append((photo.relpath, str(exc)))
            continue
        outcome.written += 1
    return outcome
