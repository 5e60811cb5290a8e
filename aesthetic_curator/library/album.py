"""Album-level operations the CLI and GUI call: index a folder, import XMP ratings.

These tie the scanner, the store and the thumbnail cache together so callers never juggle them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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

