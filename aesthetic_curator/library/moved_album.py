"""Finding an album's library again after its folder was moved or renamed.

A library is one SQLite file per absolute album path (:func:`store.library_path_for`), so a shoot folder
renamed ("2026-12-07" to "2026-12-07 Smith wedding") or moved to an archive drive opened with an empty
library: its stars, picks, labels, comparisons, profiles and rankings stayed behind under the old path.
Opening a folder that has no library yet therefore looks for the library of an album that is no longer where
it was and holds the same photos (the same relative paths and sizes for most of a sample of its photos, and
the same content for a few of them), and starts the new library as a copy of it. A copy, not a move: the old
folder may only be away (a drive unplugged) and come back, and then it keeps its own library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aesthetic_curator.library.photo_sync import from_db, to_db
from aesthetic_curator.library.scanner import fast_hash

log = logging.getLogger(__name__)

#: Photos of a candidate library compared with the folder (spread evenly over the library's photos).
SAMPLE = 100
#: The share of that sample that must be in the folder under the same relative path with the same size.
MATCHING_SHARE = 0.8
#: Of the photos found, how many have their content compared too (a file's first and last 64 KiB).
CONTENT_CHECKS = 5


@dataclass(frozen=True)
class MovedLibrary:
    """The library of an album that is no longer where it was, and how well the folder matched it."""

    path: Path  # the library's database file
    album: Path  # where its album was
    matching: float  # the share of its sampled photos found in the folder


def find_moved_library(album: Path, libraries: Path) -> MovedLibrary | None:
    """The library in ``libraries`` whose album has gone from its place and whose photos are in ``album``;
    None when there is none. Of several, the best match, and of equal ones the last written: an album moved
    twice left two libraries, and the later one holds the ratings given at its second place."""
    album = album.resolve()
    found: list[tuple[float, float, MovedLibrary]] = []
    for path in sorted(libraries.glob("*.sqlite3")):
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
                row = db.execute("SELECT value FROM album WHERE key = 'root'").fetchone()
                root = Path(from_db(row[0])) if row else None
                if root is None or root == album or root.is_dir():
                    continue  # its album is still where it was (this folder is a copy, or another album)
                photos = _sample(db, album)
        except sqlite3.Error as exc:  # damaged, or another version's layout: not a candidate
            log.debug("library %s not considered for %s: %s", path, album, exc)
            continue
        matching = _matching_share(album, photos) if photos else 0.0
        if matching >= MATCHING_SHARE:
            found.append((matching, library_modified(path), MovedLibrary(path, root, matching)))
    return max(found, key=lambda candidate: candidate[:2])[2] if found else None


def carry_library_over(moved: MovedLibrary, destination: Path, album: Path) -> None:
    """Start ``destination`` (the new album's library file) as a consistent copy of the moved album's library
    (SQLite's online backup: safe while another process has it open), with its root set to ``album``."""
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        old, new = sqlite3.connect(moved.path, timeout=5), sqlite3.connect(partial)
        with contextlib.closing(old), contextlib.closing(new):
            old.backup(new)
            new.execute("UPDATE album SET value = ? WHERE key = 'root'", (to_db(str(album.resolve())),))
            new.commit()
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    log.info("album %s was at %s: its library carried over from %s", album, moved.album, moved.path)


def library_modified(path: Path) -> float:
    """When the library was last written (its write-ahead log, where SQLite puts recent changes, counts)."""
    times = [p.stat().st_mtime for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return max(times, default=0.0)


def _sample(db: sqlite3.Connection, album: Path) -> list[tuple[str, int, str]]:
    """Up to :data:`SAMPLE` of the library's present photos (relative path, size, content hash), spread evenly;
    of all its photos when none is present (an earlier version marked them all missing when the folder went).
    Empty when none of 10 of its photos spread over the album is in ``album``: most libraries are another
    album's, and reading all their photos cost 7 ms per 2,000-photo library (spread, not the first 10, which a
    photographer may have deleted as test shots)."""
    query = "SELECT relpath, size, content_hash FROM photos WHERE missing = ? ORDER BY id"
    count = db.execute("SELECT count(*) FROM photos WHERE missing = 0").fetchone()[0]
    missing = 0 if count else 1
    count = count or db.execute("SELECT count(*) FROM photos").fetchone()[0]
    spread = "SELECT relpath, size FROM photos WHERE missing = ? AND id % ? = 0 LIMIT 10"
    probe = db.execute(spread, (missing, max(1, count // 10))).fetchall() or db.execute(query + " LIMIT 10", (missing,))
    if not any(_same_size(album, from_db(row[0]), row[1]) for row in probe):
        return []
    photos = db.execute(query, (missing,)).fetchall()
    step = max(1, len(photos) // SAMPLE)
    return [(from_db(p[0]), p[1], p[2]) for p in photos[::step][:SAMPLE]]


def _same_size(album: Path, relpath: str, size: int) -> bool:
    try:
        return os.stat(album / relpath).st_size == size
    except OSError:
        return False


def _matching_share(album: Path, photos: list[tuple[str, int, str]]) -> float:
    found = [photo for photo in photos if _same_size(album, photo[0], photo[1])]
    for relpath, size, content_hash in found[:CONTENT_CHECKS]:
        try:
            if fast_hash(album / relpath, size) != content_hash:
                return 0.0  # the same names and sizes, other pictures: another album
        except OSError:
            return 0.0
    return len(found) / len(photos)
