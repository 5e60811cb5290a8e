"""What burst grouping reads from each photo (when it was taken, its perceptual hash), kept in the
library so an album is read once: a photo whose content changed is read again.

A mixin of :class:`~aesthetic_curator.library.store.Library` (it uses ``transaction`` and ``_query``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PhotoMoment:
    """When a photo was taken (seconds; the camera's local time read as UTC, compared only within an
    album), where that came from ("exif", "exif-modified" or "file"), and its 64-bit perceptual hash
    (None when the photo cannot be decoded)."""

    photo_id: int
    taken: float
    source: str
    phash: int | None


class PhotoFeatureStore:
    def photo_moments(self) -> dict[int, tuple[str, PhotoMoment]]:
        """Photo id -> (the content hash it was read from, its moment)."""
        rows = self._query("SELECT photo_id, content_hash, taken, taken_source, phash FROM photo_features")
        return {
            r[0]: (r[1], PhotoMoment(r[0], float(r[2]), r[3], int(r[4], 16) if r[4] else None))
            for r in rows
            if r[2] is not None
        }

    def store_photo_moments(self, moments: Iterable[tuple[str, PhotoMoment]]) -> None:
        """Keep (content hash, moment) pairs, replacing what was read from a photo before."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO photo_features (photo_id, content_hash, taken, taken_source, phash) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    (m.photo_id, content, m.taken, m.source, f"{m.phash:016x}" if m.phash is not None else None)
                    for content, m in moments
                ),
            )

    def photo_sharpness(self) -> dict[int, tuple[str, float | None]]:
        """Photo id -> (the content hash it was measured on, its sharpness; None: it cannot be decoded)."""
        return {r[0]: (r[1], r[2]) for r in self._query("SELECT photo_id, content_hash, share FROM sharpness")}

    def store_photo_sharpness(self, measured: Iterable[tuple[int, str, float | None]]) -> None:
        """Keep (photo id, content hash, sharpness) triples, replacing what was measured before."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO sharpness (photo_id, content_hash, share) VALUES (?, ?, ?)", measured
            )
