"""The library database: photos of one album, the user's ratings, profiles and their scores.

One SQLite file per album folder in the user data dir. WAL journaling, foreign keys and one
transaction per logical change mean a crash or kill at any moment leaves the last committed state;
``PRAGMA user_version`` records the schema version and :data:`schema.MIGRATIONS` bring old files up to date.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library.moved_album import carry_library_over, find_moved_library
from aesthetic_curator.library.photo_features import PhotoFeatureStore
from aesthetic_curator.library.photo_sync import SyncReport, from_db, sync_photos, to_db
from aesthetic_curator.library.profile_store import ProfileStore
from aesthetic_curator.library.scanner import ScanResult
from aesthetic_curator.library.schema import EXPECTED_COLUMNS, MIGRATIONS, SCHEMA_VERSION
from aesthetic_curator.paths import data_dir

log = logging.getLogger(__name__)

REJECTED = -1
PICKED = 1
KEEP = object()  # set_rating: leave this part of the rating as it is
#: Colour labels, in Lightroom's order (keys 6-9 set the first four); XMP stores them capitalised.
COLOUR_LABELS = ("red", "yellow", "green", "blue", "purple")


@dataclass(frozen=True)
class Photo:
    id: int
    relpath: str
    size: int
    mtime_ns: int
    content_hash: str
    format: str  # "RAW+JPEG" for a pair
    missing: bool
    companion: str | None = None  # a RAW+JPEG pair's RAW file name (beside the JPEG, which is ``relpath``)


@dataclass(frozen=True)
class Rating:
    stars: int | None  # 1-5, None when only flagged
    flag: int  # -1 rejected, 0 none, 1 picked
    source: str  # "user" or "xmp"
    rated_at: float


@dataclass(frozen=True)
class Comparison:
    """One answer to "which of these two?": ``a``, ``b`` or ``tie`` (can't decide)."""

    id: int
    photo_a: int
    photo_b: int
    outcome: str
    answered_at: float


OUTCOMES = ("a", "b", "tie")


#: Longest album-name part of a library file name, in bytes: the rest of the name (key, suffixes,
#: SQLite's "-wal"/"-shm") must still fit the 255-byte limit of common file systems.
_LIBRARY_LABEL_BYTES = 120


_PHOTO_COLUMNS = "SELECT id, relpath, size, mtime_ns, content_hash, format, missing, companion FROM photos"


def _photo_from_row(row: tuple) -> Photo:
    companion = None if row[7] is None else from_db(row[7])
    return Photo(row[0], from_db(row[1]), *row[2:6], bool(row[6]), companion)


def _short_label(name: str) -> str:
    raw = os.fsencode(name or "album")[:_LIBRARY_LABEL_BYTES]
    return raw.decode("utf-8", "ignore") or "album"


#: Runs one SQL query on a library database: (sql, parameters) -> rows.
Query = Callable[[str, Sequence], list[tuple]]


def read_training_ratings(query: Query, album: Path) -> list[tuple[Path, float]]:
    """(photo path, rating) pairs for personalization, from a library's database (this album's, or another
    album's read by :mod:`other_albums`).

    Stars count as given; a rejected photo counts as 0 stars (below every starred photo);
    a pick without stars says nothing about its order and is left out. Missing files are left out.
    """
    rows = query(
        "SELECT p.relpath, r.stars, r.flag FROM ratings r JOIN photos p ON p.id = r.photo_id "
        "WHERE p.missing = 0",
        (),
    )
    pairs = []
    for stored, stars, flag in sorted(rows, key=lambda row: from_db(row[0])):
        relpath = from_db(stored)
        if flag == REJECTED:
            pairs.append((album / relpath, 0.0))
        elif stars is not None:
            pairs.append((album / relpath, float(stars)))
    return pairs


def read_training_pairs(query: Query, album: Path) -> list[tuple[Path, Path]]:
    """(better, worse) photo paths of every decided comparison in a library whose photos are both present."""
    rows = query(
        "SELECT pa.relpath, pb.relpath, c.outcome FROM comparisons c "
        "JOIN photos pa ON pa.id = c.photo_a JOIN photos pb ON pb.id = c.photo_b "
        "WHERE c.outcome != 'tie' AND pa.missing = 0 AND pb.missing = 0 ORDER BY c.id",
        (),
    )
    pairs = []
    for stored_a, stored_b, outcome in rows:
        a, b = album / from_db(stored_a), album / from_db(stored_b)
        pairs.append((a, b) if outcome == "a" else (b, a))
    return pairs


def libraries_dir() -> Path:
    """The folder of every album's library file (in the user data dir)."""
    return data_dir() / "libraries"


def library_path_for(album: Path) -> Path:
    """The database file of an album: one per absolute album path, in the user data dir.

    The album's own name only labels the file (shortened when long); the hash of the whole path
    is what tells albums apart.
    """
    resolved = album.resolve()
    key = hashlib.sha256(os.fsencode(str(resolved))).hexdigest()[:16]
    return libraries_dir() / f"{_short_label(resolved.name)}-{key}.sqlite3"


class Library(ProfileStore, PhotoFeatureStore):
    """All persistent state of one album. Thread-safe: one connection guarded by a lock."""

    def __init__(self, db_path: Path, album: Path) -> None:
        self.db_path = db_path
        self.album = album.resolve()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise CuratorError(f"cannot open the library database {db_path} ({exc})") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._check_layout()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CuratorError(
                f"the library database {db_path} is damaged ({exc}); move it away to start this album's "
                "library afresh (your photos are not affected)"
            ) from exc
        except CuratorError:
            self._db.close()
            raise
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO album (key, value) VALUES ('root', ?)", (to_db(str(self.album)),))
        #: Where the album was when its library was carried over on this open (moved_album); else None.
        self.carried_from: Path | None = None

    @classmethod
    def open_for_album(cls, album: Path) -> Library:
        """The album's library; for a folder without one, a copy of the library its photos had before the
        folder was moved or renamed, when there is one (:mod:`moved_album`)."""
        if not album.is_dir():
            raise CuratorError(f"album folder {album} does not exist")
        path = library_path_for(album)
        moved = None if path.exists() else find_moved_library(album, path.parent)
        if moved is not None:
            try:
                carry_library_over(moved, path, album)
            except sqlite3.Error as exc:  # the old library stays as it is; this album starts afresh
                log.warning("could not carry the library of %s over to %s: %s", moved.album, album, exc)
                moved = None
        library = cls(path, album)
        library.carried_from = moved.album if moved is not None else None
        return library

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception: all or nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise CuratorError(
                f"library {self.db_path} was written by a newer Aesthetic Curator (schema {version}); update the app"
            )
        for target in range(version, SCHEMA_VERSION):
            with self.transaction() as db:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")

    def _check_layout(self) -> None:
        """Every table and column this version reads exists: a file of another program (or a damaged
        one) that happens to carry our schema number is refused up front, not half-way through a scan."""
        missing = []
        for table, columns in EXPECTED_COLUMNS.items():
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            missing += [f"{table}.{column}" for column in columns if column not in present]
        if missing:
            raise CuratorError(
                f"the library database {self.db_path} does not have the expected layout (missing "
                f"{', '.join(missing[:4])}); move it away to start this album's library afresh "
                "(your photos are not affected)"
            )

    def integrity_ok(self) -> bool:
        return self._query("PRAGMA integrity_check")[0][0] == "ok" and not self._query("PRAGMA foreign_key_check")

    # -- photos -----------------------------------------------------------------------------------------
    def sync(self, scan: ScanResult) -> SyncReport:
        """Bring the photo table in line with a scan, in one transaction (see :func:`sync_photos`)."""
        with self.transaction() as db:
            return sync_photos(db, scan)

    def known_files(self) -> dict[str, tuple[int, int, str]]:
        """relpath -> (size, mtime_ns, hash), so a re-scan can skip hashing unchanged files."""
        return {
            from_db(r[0]): (r[1], r[2], r[3])
            for r in self._query("SELECT relpath, size, mtime_ns, content_hash FROM photos")
        }

    def photos(self, include_missing: bool = False) -> list[Photo]:
        sql = _PHOTO_COLUMNS
        if not include_missing:
            sql += " WHERE missing = 0"
        photos = [_photo_from_row(row) for row in self._query(sql)]
        return sorted(photos, key=lambda photo: photo.relpath)

    def photo(self, relpath: str) -> Photo | None:
        rows = self._query(_PHOTO_COLUMNS + " WHERE relpath = ?", (to_db(relpath),))
        return _photo_from_row(rows[0]) if rows else None

    def absolute_path(self, photo: Photo) -> Path:
        return self.album / photo.relpath

    def companion_path(self, photo: Photo) -> Path | None:
        """The RAW file of a RAW+JPEG pair (beside the photo's JPEG); None for a photo of one file."""
        return None if photo.companion is None else (self.album / photo.relpath).with_name(photo.companion)

    # -- ratings ----------------------------------------------------------------------------------------
    def set_rating(self, photo_id: int, stars: object = KEEP, flag: object = KEEP, source: str = "user") -> None:
        """Change stars (1-5 or None) and/or the flag (-1 reject, 0 none, 1 pick); the other part is kept.

        A photo left with no stars and no flag has no rating row at all.
        """
        with self.transaction() as db:
            row = db.execute("SELECT stars, flag FROM ratings WHERE photo_id = ?", (photo_id,)).fetchone()
            current_stars, current_flag = row if row else (None, 0)
            new_stars = current_stars if stars is KEEP else stars
            new_flag = current_flag if flag is KEEP else flag
            if new_stars is not None and not (isinstance(new_stars, int) and 1 <= new_stars <= 5):
                raise ValueError(f"stars must be 1-5 or None, not {new_stars!r}")
            if new_flag not in (REJECTED, 0, PICKED):
                raise ValueError(f"flag must be -1, 0 or 1, not {new_flag!r}")
            if new_stars is None and new_flag == 0:
                db.execute("DELETE FROM ratings WHERE photo_id = ?", (photo_id,))
                return
            db.execute(
                "INSERT INTO ratings (photo_id, stars, flag, source, rated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (photo_id) DO UPDATE SET stars=excluded.stars, flag=excluded.flag, "
                "source=excluded.source, rated_at=excluded.rated_at",
                (photo_id, new_stars, new_flag, source, time.time()),
            )

    def set_label(self, photo_id: int, label: str | None) -> None:
        """A colour label (one of :data:`COLOUR_LABELS`), or None for none."""
        if label is not None and label not in COLOUR_LABELS:
            raise ValueError(f"label must be one of {COLOUR_LABELS} or None, not {label!r}")
        with self.transaction() as db:
            if label is None:
                db.execute("DELETE FROM labels WHERE photo_id = ?", (photo_id,))
            else:
                db.execute(
                    "INSERT INTO labels (photo_id, label, labelled_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (photo_id) DO UPDATE SET label=excluded.label, labelled_at=excluded.labelled_at",
                    (photo_id, label, time.time()),
                )

    def labels(self) -> dict[int, str]:
        """Photo id -> colour label, for the labelled photos."""
        return dict(self._query("SELECT photo_id, label FROM labels"))

    def ratings(self) -> dict[int, Rating]:
        return {
            r[0]: Rating(*r[1:]) for r in self._query("SELECT photo_id, stars, flag, source, rated_at FROM ratings")
        }

    def training_ratings(self) -> list[tuple[Path, float]]:
        """(photo path, rating) pairs for personalization (:func:`read_training_ratings`)."""
        return read_training_ratings(self._query, self.album)

    # -- comparisons ------------------------------------------------------------------------------------
    def add_comparison(self, photo_a: int, photo_b: int, outcome: str) -> int:
        """Record the user's answer for two photos of this album; returns its id (for undo)."""
        if outcome not in OUTCOMES:
            raise CuratorError(f"a comparison's outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}")
        if photo_a == photo_b:
            raise CuratorError("a photo cannot be compared with itself")
        with self.transaction() as db:
            known = db.execute("SELECT COUNT(*) FROM photos WHERE id IN (?, ?)", (photo_a, photo_b)).fetchone()[0]
            if known != 2:
                raise CuratorError("both photos of a comparison must belong to the album")
            cursor = db.execute(
                "INSERT INTO comparisons (photo_a, photo_b, outcome, answered_at) VALUES (?, ?, ?, ?)",
                (photo_a, photo_b, outcome, time.time()),
            )
            return int(cursor.lastrowid)

    def comparisons(self) -> list[Comparison]:
        rows = self._query("SELECT id, photo_a, photo_b, outcome, answered_at FROM comparisons ORDER BY id")
        return [Comparison(*row) for row in rows]

    def remove_comparison(self, comparison_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM comparisons WHERE id = ?", (comparison_id,))

    def undo_comparison(self) -> Comparison | None:
        """Remove the latest answer and return it (None when there is none)."""
        latest = next(reversed(self.comparisons()), None)
        if latest is not None:
            self.remove_comparison(latest.id)
        return latest

    def training_pairs(self) -> list[tuple[Path, Path]]:
        """(better, worse) photo paths of every decided comparison whose photos are both present."""
        return read_training_pairs(self._query, self.album)
