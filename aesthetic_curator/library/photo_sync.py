"""Bringing an album's photo table in line with a scan: what was added, changed, moved, paired or removed.

Kept apart from the store because it is the one place that decides a photo's identity across scans
(path, then content hash), and the one place that stores file names, which need not be valid UTF-8.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field

from aesthetic_curator.library.scanner import ScanResult


@dataclass
class SyncReport:
    added: list[str]
    removed: list[str]
    changed: list[str]
    moved: list[tuple[str, str]]  # (old relpath, new relpath)
    unchanged: int
    paired: list[tuple[str, str]] = field(default_factory=list)  # (RAW relpath, JPEG relpath): now one photo

    @property
    def any_change(self) -> bool:
        """Whether the album's photos differ from before (what a view must reload for)."""
        return bool(self.added or self.removed or self.changed or self.moved or self.paired)


def to_db(relpath: str) -> str | bytes:
    """A relative path as SQLite can store it without loss.

    File names that are not valid UTF-8 (e.g. Latin-1 ``café.jpg`` from an old camera or a Windows
    share) arrive as surrogate escapes, which SQLite cannot encode; they are stored as their raw
    file-system bytes instead (a BLOB in the same column, still unique), every other name as text.
    """
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(relpath)
    return relpath


def from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


#: What a RAW that became part of a pair hands to its JPEG (the columns after ``photo_id``).
_CARRIED = {"ratings": "stars, flag, source, rated_at", "labels": "label, labelled_at"}


def _companion_relpath(relpath: str, companion: str) -> str:
    """The album-relative path of a pair's RAW: its name in the JPEG's folder."""
    folder = relpath.rpartition("/")[0]
    return f"{folder}/{companion}" if folder else companion


def _hand_over(db: sqlite3.Connection, raw_id: int, pair_id: int) -> None:
    """A RAW that was a photo of its own is now part of a pair: its rating and label go to the pair when it
    has none, and its comparisons ("which of these two?" answers about the shot) become the pair's."""
    for table in ("ratings", "labels"):
        db.execute(
            f"INSERT OR IGNORE INTO {table} SELECT ?, {_CARRIED[table]} FROM {table} WHERE photo_id = ?",
            (pair_id, raw_id),
        )
    db.execute(
        "DELETE FROM comparisons WHERE (photo_a = ? AND photo_b = ?) OR (photo_a = ? AND photo_b = ?)",
        (raw_id, pair_id, pair_id, raw_id),
    )  # the RAW against its own JPEG: the same shot
    for column in ("photo_a", "photo_b"):
        db.execute(f"UPDATE comparisons SET {column} = ? WHERE {column} = ?", (pair_id, raw_id))


def sync_photos(db: sqlite3.Connection, scan: ScanResult) -> SyncReport:
    """Bring the photo table in line with a scan, inside the caller's transaction.

    Same path: unchanged, or changed (its scores are dropped; ratings stay). A new path whose
    content hash and size match a photo that disappeared is a move: the photo keeps its id,
    ratings and scores. Photos no longer found are marked missing, not deleted, so their
    ratings come back if the file does; one still being written to (``scan.unsettled``) waits for
    a later scan as it was. A RAW that was a photo of its own and is now paired with
    its JPEG hands its rating, label and comparisons to the pair (:func:`_hand_over`).
    """
    now = time.time()
    report = SyncReport([], [], [], [], 0)
    existing = {
        from_db(row[1]): (row[0], from_db(row[1]), *row[2:])
        for row in db.execute(
            "SELECT id, relpath, size, mtime_ns, content_hash, missing, format, companion FROM photos"
        )
    }
    seen = {f.relpath for f in scan.files} | set(scan.unsettled)  # a photo still being copied keeps its record
    vanished: dict[tuple[str, int], list[tuple]] = {}
    for relpath, row in existing.items():
        if relpath not in seen:
            vanished.setdefault((row[4], row[2]), []).append(row)
    ids: dict[str, int] = {}
    for file in scan.files:
        companion = None if file.companion is None else to_db(file.companion)
        row = existing.get(file.relpath)
        if row is not None:
            ids[file.relpath] = row[0]
            same_pairing = (row[6], row[7]) == (file.format, companion)
            if (row[2], row[3], row[4]) == (file.size, file.mtime_ns, file.content_hash) and not row[5]:
                report.unchanged += 1
                if not same_pairing:
                    db.execute(
                        "UPDATE photos SET format=?, companion=?, updated_at=? WHERE id=?",
                        (file.format, companion, now, row[0]),
                    )
                continue
            if row[4] != file.content_hash or row[2] != file.size:
                report.changed.append(file.relpath)
                db.execute("DELETE FROM scores WHERE photo_id = ?", (row[0],))
            elif not row[5]:
                report.unchanged += 1  # touched (mtime) but same content
            else:
                report.added.append(file.relpath)  # came back
            db.execute(
                "UPDATE photos SET size=?, mtime_ns=?, content_hash=?, format=?, companion=?, missing=0, "
                "updated_at=? WHERE id=?",
                (file.size, file.mtime_ns, file.content_hash, file.format, companion, now, row[0]),
            )
            continue
        candidates = vanished.get((file.content_hash, file.size))
        if candidates:
            old = candidates.pop(0)
            ids[file.relpath] = old[0]
            db.execute(
                "UPDATE photos SET relpath=?, mtime_ns=?, format=?, companion=?, missing=0, updated_at=? WHERE id=?",
                (to_db(file.relpath), file.mtime_ns, file.format, companion, now, old[0]),
            )
            report.moved.append((old[1], file.relpath))
            continue
        cursor = db.execute(
            "INSERT INTO photos (relpath, size, mtime_ns, content_hash, format, companion, added_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (to_db(file.relpath), file.size, file.mtime_ns, file.content_hash, file.format, companion, now, now),
        )
        ids[file.relpath] = cursor.lastrowid
        report.added.append(file.relpath)
    paired_with = {_companion_relpath(f.relpath, f.companion): f.relpath for f in scan.files if f.companion is not None}
    for rows in vanished.values():
        for row in rows:
            lead = paired_with.get(row[1])
            if lead is not None and not row[5]:
                report.paired.append((row[1], lead))
                _hand_over(db, row[0], ids[lead])
            elif not row[5]:
                report.removed.append(row[1])
            db.execute("UPDATE photos SET missing=1, updated_at=? WHERE id=?", (now, row[0]))
    return report
