"""The user's other albums: the profiles and the answers they taught there, for the album open now.

Profiles live in each album's own library (one SQLite file per album), which keeps an album's profiles, scores
and rankings together, but meant that every new shoot started with no profile: a photographer who had taught
the app their taste on last month's wedding had to rate the new one again, or export and import a file by hand.
This module reads the other libraries of the app's library folder, without changing them, for two things:

- every **profile** stored there (:func:`profiles_elsewhere`), so the app can offer them (Profile → Use a
  Profile from Another Album…, ``aesthetic-curator profiles``): a profile is a few kilobytes of coefficients
  over the model's tasks, nothing of the other album's photos, so it ranks any album of the same model bundle;
- every **answer** given there (:func:`answers_elsewhere`: stars, rejects and decided comparisons of photos
  still in place), so one personalization can learn from all of them (Profile → Learn From All My Albums).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library.moved_album import library_modified
from aesthetic_curator.library.photo_sync import from_db
from aesthetic_curator.library.profile_store import stored_metadata
from aesthetic_curator.library.store import Query, read_training_pairs, read_training_ratings

log = logging.getLogger(__name__)

T = TypeVar("T")
PROFILES_QUERY = "SELECT id, name, bundle_id, metadata, created_at FROM profiles"


@dataclass(frozen=True)
class ProfileElsewhere:
    """A profile stored in another album's library."""

    library: Path  # that album's library file
    album: Path  # where that album is (or was)
    profile_id: int  # the profile's id in that library
    name: str
    bundle_id: str  # the model bundle it was made with: it applies only to albums ranked with that bundle
    metadata: dict
    created_at: float

    @property
    def album_name(self) -> str:
        return self.album.name or str(self.album)

    def made(self) -> str:
        """When it was stored, as a date ("2026-12-07")."""
        return time.strftime("%Y-%m-%d", time.localtime(self.created_at))


def profiles_elsewhere(libraries: Path, album: Path | None = None, recent: int | None = None) -> list[ProfileElsewhere]:
    """Every profile in the libraries of ``libraries`` but ``album``'s own, the most recently made first; with
    ``recent``, only in the libraries written most recently (a quick look, e.g. on opening an album: a
    photographer's hundreds of albums cost about 1 ms each to read).

    A damaged library, or one of a version without profiles, is passed over (logged): it costs its profiles
    in the list, not the list."""
    own = album.resolve() if album is not None else None
    found: list[ProfileElsewhere] = []
    paths = sorted(libraries.glob("*.sqlite3"))
    if recent is not None:
        paths = sorted(paths, key=library_modified, reverse=True)[:recent]
    for path in paths:
        read = _read_other_library(path, own, lambda query, root: query(PROFILES_QUERY, ()))
        if read is not None:
            root, rows = read
            for profile_id, name, bundle_id, metadata, created in rows:
                found.append(
                    ProfileElsewhere(path, root, profile_id, name, bundle_id, stored_metadata(metadata), created)
                )
    return sorted(found, key=lambda p: (-p.created_at, p.album_name, p.name))


def _read_other_library(path: Path, own: Path | None, read: Callable[[Query, Path], T]) -> tuple[Path, T] | None:
    """(album root, ``read(query, root)``) of the library at ``path``; None when it is ``own`` album's, or is
    damaged or of a layout without what ``read`` asks (logged): it costs what it holds, not the caller's list."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
            row = db.execute("SELECT value FROM album WHERE key = 'root'").fetchone()
            root = Path(from_db(row[0])) if row else None
            if root is None or root == own:
                return None
            return root, read(lambda sql, params=(): db.execute(sql, params).fetchall(), root)
    except sqlite3.Error as exc:
        log.debug("library %s not read: %s", path, exc)
        return None


def profile_file_bytes(profile: ProfileElsewhere) -> bytes:
    """The profile file's bytes, read from its library now (raises CuratorError when it is gone or unreadable)."""
    try:
        with contextlib.closing(sqlite3.connect(profile.library, timeout=5)) as db:
            row = db.execute("SELECT data FROM profiles WHERE id = ?", (profile.profile_id,)).fetchone()
    except sqlite3.Error as exc:
        raise CuratorError(f"cannot read the profile “{profile.name}” from {profile.library} ({exc})") from exc
    if row is None:
        raise CuratorError(f"the profile “{profile.name}” is no longer in the library of {profile.album}")
    return bytes(row[0])


def carried_metadata(profile: ProfileElsewhere) -> dict:
    """The metadata a copy of the profile keeps in this album: what it learned and where it came from, and how
    well it knew the user there (as ``agreement_there``: the app reports ``agreement`` as how well a profile
    predicts this album's answers); not the fingerprint of the other album's answers or its top-50 movement,
    which would be compared with this album's answers and photos ("your answers changed since")."""
    about_there = ("answers", "agreement", "previous_profile", "previous_top", "top_moved")
    kept = {key: value for key, value in profile.metadata.items() if key not in about_there}
    if isinstance(profile.metadata.get("agreement"), dict):
        kept["agreement_there"] = profile.metadata["agreement"]
    answers = profile.metadata.get("answers")
    if isinstance(answers, dict) and "count" in answers:
        kept["answers"] = {"count": answers["count"]}  # how many it learned from; no digest: nothing to compare
    return {**kept, "from_album": str(profile.album)}


#: At most this many photos judged in other albums are learned from (the most recently used albums first, each
#: whole): personalization's time grows with the photos, and the method learns little beyond about 100.
MAX_PHOTOS_ELSEWHERE = 150


@dataclass(frozen=True)
class AnswersElsewhere:
    """The answers given in other albums: stars (rejects as 0) and decided comparisons, by absolute path."""

    rated: list[tuple[Path, float]]
    pairs: list[tuple[Path, Path]]
    albums: list[Path]  # the albums they come from
    unreachable: list[Path]  # albums with answers whose folder cannot be reached now (a drive unplugged)

    @property
    def photos(self) -> int:
        return len({path for path, _ in self.rated} | {path for pair in self.pairs for path in pair})

    def summary(self) -> dict[str, int]:
        """What a profile learned from them, as stored with it."""
        return {
            "ratings": len(self.rated),
            "comparisons": len(self.pairs),
            "photos": self.photos,
            "albums": len(self.albums),
            "unreachable": len(self.unreachable),
        }


def answers_elsewhere(libraries: Path, album: Path, limit: int = MAX_PHOTOS_ELSEWHERE) -> AnswersElsewhere:
    """The answers given in the albums of ``libraries`` other than ``album``: the most recently written
    libraries first, each album whole, up to ``limit`` judged photos in all (an album that would pass it is
    left out, a smaller one after it may still fit). Only photos whose files are in place count; an album
    whose folder is gone counts as unreachable. A photo of the open album (an album nested in another) or of an
    album already counted is left out, so no photo counts twice. Nothing is written."""
    own = album.resolve()
    rated: list[tuple[Path, float]] = []
    pairs: list[tuple[Path, Path]] = []
    albums: list[Path] = []
    unreachable: list[Path] = []
    photos: set[Path] = set()
    for path in sorted(libraries.glob("*.sqlite3"), key=library_modified, reverse=True):
        if len(photos) >= limit:
            break  # full: the older albums' libraries need not be read
        read = _read_other_library(path, own, _answers_of)
        if read is None:
            continue
        root, (its_rated, its_pairs) = read
        if not its_rated and not its_pairs:
            continue
        if not root.is_dir():
            unreachable.append(root)
            continue
        its_rated = [(photo, rating) for photo, rating in its_rated if _usable(photo, own, photos)]
        its_pairs = [(a, b) for a, b in its_pairs if _usable(a, own, photos) and _usable(b, own, photos)]
        its_photos = {photo for photo, _ in its_rated} | {photo for pair in its_pairs for photo in pair}
        if not its_photos or len(photos | its_photos) > limit:
            continue
        rated += its_rated
        pairs += its_pairs
        photos.update(its_photos)
        albums.append(root)
    return AnswersElsewhere(rated, pairs, albums, unreachable)


def _answers_of(query: Query, root: Path) -> tuple[list[tuple[Path, float]], list[tuple[Path, Path]]]:
    return read_training_ratings(query, root), read_training_pairs(query, root)


def _usable(photo: Path, own: Path, counted: set[Path]) -> bool:
    """In place, and neither the open album's (an album nested in another) nor a counted album's already."""
    return photo not in counted and not photo.is_relative_to(own) and photo.is_file()
