"""The album library's profiles and their scores: stored profile files, metadata and per-photo ranks.

A mixin of :class:`~aesthetic_curator.library.store.Library` (it uses the library's ``transaction`` and
``_query``), kept apart so the store module holds photos, ratings and comparisons and this one profiles.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aesthetic_curator.errors import CuratorError

#: Earlier versions of a hand-shaped profile kept for undo.
KEPT_VERSIONS = 20


@dataclass(frozen=True)
class StoredProfile:
    id: int
    name: str
    bundle_id: str
    metadata: dict
    created_at: float


def stored_metadata(text: str) -> dict:
    """A profile's stored metadata; damaged JSON costs the details shown, not the profile."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


class ProfileStore:
    """Profiles (name, bundle, file bytes, metadata) and each profile's scores of the album's photos."""

    def save_profile(self, name: str, data: bytes, bundle_id: str, metadata: dict | None = None) -> int:
        """Store a profile file's bytes under ``name`` (replacing one of that name and its scores)."""
        with self.transaction() as db:
            db.execute("DELETE FROM profiles WHERE name = ?", (name,))
            cursor = db.execute(
                "INSERT INTO profiles (name, bundle_id, data, metadata, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, bundle_id, data, json.dumps(metadata or {}), time.time()),
            )
            return int(cursor.lastrowid)

    def profiles(self) -> list[StoredProfile]:
        rows = self._query("SELECT id, name, bundle_id, metadata, created_at FROM profiles ORDER BY name")
        return [StoredProfile(r[0], r[1], r[2], stored_metadata(r[3]), r[4]) for r in rows]

    def profile_data(self, profile_id: int) -> bytes:
        rows = self._query("SELECT data FROM profiles WHERE id = ?", (profile_id,))
        if not rows:
            raise CuratorError(f"no profile with id {profile_id}")
        return bytes(rows[0][0])

    def rename_profile(self, profile_id: int, name: str) -> None:
        try:
            with self.transaction() as db:
                db.execute("UPDATE profiles SET name = ? WHERE id = ?", (name, profile_id))
        except sqlite3.IntegrityError as exc:
            raise CuratorError(f"a profile named '{name}' already exists") from exc

    def delete_profile(self, profile_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM profiles WHERE id = ?", (profile_id,))

    def store_scores(self, profile_id: int, scores: Iterable[tuple[int, float, int]]) -> None:
        """Replace a profile's (photo id, score, rank) rows in one transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM scores WHERE profile_id = ?", (profile_id,))
            db.executemany(
                "INSERT INTO scores (profile_id, photo_id, score, rank) VALUES (?, ?, ?, ?)",
                ((profile_id, pid, score, rank) for pid, score, rank in scores),
            )

    def scores(self, profile_id: int) -> dict[int, tuple[float, int]]:
        rows = self._query("SELECT photo_id, score, rank FROM scores WHERE profile_id = ?", (profile_id,))
        return {r[0]: (r[1], r[2]) for r in rows}

    def update_profile_metadata(self, profile_id: int, changes: dict) -> None:
        """Merge ``changes`` into a stored profile's metadata (what the app learned about it later)."""
        with self.transaction() as db:
            row = db.execute("SELECT metadata FROM profiles WHERE id = ?", (profile_id,)).fetchone()
            if row is None:
                raise CuratorError(f"no profile with id {profile_id}")
            merged = json.dumps({**stored_metadata(row[0]), **changes})
            db.execute("UPDATE profiles SET metadata = ? WHERE id = ?", (merged, profile_id))

    def scored_elsewhere(self, profile_id: int) -> list[int]:
        """Ids of photos another profile has scored and this one has not (added after it ranked the album)."""
        query = (
            "SELECT DISTINCT photo_id FROM scores WHERE profile_id != ? "
            "EXCEPT SELECT photo_id FROM scores WHERE profile_id = ?"
        )
        return sorted(row[0] for row in self._query(query, (profile_id, profile_id)))

    def top_photos(self, profile_id: int, count: int) -> list[int]:
        """Ids of the ``count`` best-ranked photos under a profile (fewer when fewer are scored)."""
        query = "SELECT photo_id FROM scores WHERE profile_id = ? ORDER BY rank LIMIT ?"
        rows = self._query(query, (profile_id, count))
        return [row[0] for row in rows]

    # -- hand-shaped versions ----------------------------------------------------------------------------
    def replace_profile(
        self, profile_id: int, data: bytes, metadata: dict, scores: Iterable[tuple[int, float, int]]
    ) -> None:
        """Make ``data`` (with its scores) the profile's current version in one transaction, keeping the
        version it replaces, and its scores, for :meth:`undo_profile_change`."""
        with self.transaction() as db:
            row = db.execute("SELECT data, metadata FROM profiles WHERE id = ?", (profile_id,)).fetchone()
            if row is None:
                raise CuratorError(f"no profile with id {profile_id}")
            version = db.execute(
                "INSERT INTO profile_versions (profile_id, data, metadata, saved_at) VALUES (?, ?, ?, ?)",
                (profile_id, row[0], row[1], time.time()),
            ).lastrowid
            db.execute(
                "INSERT INTO version_scores (version_id, photo_id, score, rank) "
                "SELECT ?, photo_id, score, rank FROM scores WHERE profile_id = ?",
                (version, profile_id),
            )
            db.execute(
                "DELETE FROM profile_versions WHERE profile_id = ? AND id NOT IN "
                "(SELECT id FROM profile_versions WHERE profile_id = ? ORDER BY id DESC LIMIT ?)",
                (profile_id, profile_id, KEPT_VERSIONS),
            )
            update = "UPDATE profiles SET data = ?, metadata = ? WHERE id = ?"
            db.execute(update, (data, json.dumps(metadata), profile_id))
            db.execute("DELETE FROM scores WHERE profile_id = ?", (profile_id,))
            db.executemany(
                "INSERT INTO scores (profile_id, photo_id, score, rank) VALUES (?, ?, ?, ?)",
                ((profile_id, pid, score, rank) for pid, score, rank in scores),
            )

    def profile_version_count(self, profile_id: int) -> int:
        """How many earlier versions undo can go back through."""
        return int(self._query("SELECT COUNT(*) FROM profile_versions WHERE profile_id = ?", (profile_id,))[0][0])

    def undo_profile_change(self, profile_id: int) -> bool:
        """Return the profile, and its scores, to the version before its latest change; False when none."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, data, metadata FROM profile_versions WHERE profile_id = ? ORDER BY id DESC LIMIT 1",
                (profile_id,),
            ).fetchone()
            if row is None:
                return False
            version, data, metadata = row
            db.execute("UPDATE profiles SET data = ?, metadata = ? WHERE id = ?", (data, metadata, profile_id))
            db.execute("DELETE FROM scores WHERE profile_id = ?", (profile_id,))
            db.execute(
                "INSERT INTO scores (profile_id, photo_id, score, rank) "
                "SELECT ?, photo_id, score, rank FROM version_scores WHERE version_id = ?",
                (profile_id, version),
            )
            db.execute("DELETE FROM profile_versions WHERE id = ?", (version,))
            return True

    # -- the plain average's scores, per bundle ---------------------------------------------------------
    def store_reference_scores(self, bundle_id: str, scores: Iterable[tuple[int, float, int]]) -> None:
        """Replace the (photo id, score, rank) rows of the bundle's all-tasks-equal profile."""
        with self.transaction() as db:
            db.execute("DELETE FROM reference_scores WHERE bundle_id = ?", (bundle_id,))
            db.executemany(
                "INSERT INTO reference_scores (bundle_id, photo_id, score, rank) VALUES (?, ?, ?, ?)",
                ((bundle_id, pid, score, rank) for pid, score, rank in scores),
            )

    def reference_scores(self, bundle_id: str) -> dict[int, tuple[float, int]]:
        rows = self._query("SELECT photo_id, score, rank FROM reference_scores WHERE bundle_id = ?", (bundle_id,))
        return {r[0]: (r[1], r[2]) for r in rows}
