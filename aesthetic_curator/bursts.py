"""Bursts and near-duplicates: photos taken seconds apart whose content matches, grouped so a stack
shows its best frame and culling keeps one per burst.

Two facts per photo, read once and kept in the library (``library.photo_features``):

- **when** it was taken: EXIF DateTimeOriginal plus SubSecTimeOriginal (camera RAW files too, read by
  ``photo_exif``); the EXIF DateTime when the original time is absent; the file's modification time when
  the photo has no EXIF time at all;
- **what** it shows: a 64-bit perceptual hash (DCT hash from the ImageHash library) of the upright photo.

Two photos belong to one burst when they were taken at most :data:`BURST_GAP_SECONDS` apart and their
hashes differ in at most :data:`HASH_DISTANCE` of the 64 bits; bursts chain (a 500-frame burst over a
minute is one group as long as consecutive frames match). Grouping sorts by time once and compares each
photo with at most :data:`NEIGHBOURS` earlier photos inside the gap, so it is O(n log n) however the
times fall: photos with identical timestamps (copies without EXIF share a file time) cost no more.

Thresholds, measured on copies of 120 LIVE-C photos against the 7,140 pairs of distinct ones: copies
shifted by 3 %, rotated by 2°, re-compressed at JPEG quality 40, 15 % brighter or half-size differ in
0-12 bits (all within the threshold); copies cropped by 5 % in 0-16 bits (98 % within); distinct
photos in 18 bits or more (none within). tests/test_bursts.py checks this on made-up bursts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import imagehash

from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.images import decode_image
from aesthetic_curator.library.photo_features import PhotoMoment
from aesthetic_curator.library.store import Library
from aesthetic_curator.photo_exif import read_exif
from aesthetic_curator.progress import CancelToken, ProgressCallback, map_in_chunks

log = logging.getLogger(__name__)

#: Photos at most this many seconds apart can be one burst (a burst, a bracket, a quick re-take).
BURST_GAP_SECONDS = 3.0
#: ... when their 64-bit perceptual hashes differ in at most this many bits.
HASH_DISTANCE = 12
#: Each photo is compared with at most this many earlier photos inside the gap.
NEIGHBOURS = 12
#: The shorter side the photo is decoded at for hashing (JPEG DCT scaling makes that cheap).
HASH_DECODE_SIZE = 64


@dataclass
class Bursts:
    """The album's burst groups (photo ids, in shooting order), each of two or more photos."""

    groups: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.group_of = {pid: index for index, group in enumerate(self.groups) for pid in group}

    def members(self, photo_id: int) -> list[int]:
        """The burst of ``photo_id`` (just itself when it is in none)."""
        index = self.group_of.get(photo_id)
        return self.groups[index] if index is not None else [photo_id]

    def best(self, group: Sequence[int], rank: dict[int, int], stars: dict[int, float] | None = None) -> int:
        """The group's best photo: the best-ranked by the profile; then the most stars; then the first taken."""
        order = {pid: n for n, pid in enumerate(group)}
        stars = stars or {}
        return min(group, key=lambda pid: (rank.get(pid, 1 << 60), -stars.get(pid, 0.0), order[pid]))

    def hidden_by_best(self, rank: dict[int, int], stars: dict[int, float] | None = None) -> set[int]:
        """Every burst member except its group's best: what "only the best of each burst" leaves out."""
        hidden: set[int] = set()
        for group in self.groups:
            best = self.best(group, rank, stars)
            hidden.update(pid for pid in group if pid != best)
        return hidden


def hash_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def group_bursts(
    moments: Iterable[PhotoMoment],
    gap: float = BURST_GAP_SECONDS,
    max_distance: int = HASH_DISTANCE,
    neighbours: int = NEIGHBOURS,
) -> Bursts:
    """Group photos taken within ``gap`` seconds whose hashes are within ``max_distance`` bits."""
    ordered = sorted((m for m in moments if m.phash is not None), key=lambda m: (m.taken, m.photo_id))
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, moment in enumerate(ordered):
        for j in range(i - 1, max(-1, i - 1 - neighbours), -1):
            earlier = ordered[j]
            if moment.taken - earlier.taken > gap:
                break
            if hash_distance(moment.phash, earlier.phash) <= max_distance:
                parent[root(j)] = root(i)
    members: dict[int, list[int]] = {}
    for i, moment in enumerate(ordered):
        members.setdefault(root(i), []).append(moment.photo_id)
    return Bursts([group for group in members.values() if len(group) > 1])


def read_moment(photo_id: int, path: Path, mtime_ns: int) -> PhotoMoment:
    """When the photo was taken and its perceptual hash; an unreadable photo gets its file time and no hash."""
    taken, source = _exif_time(path)
    if taken is None:
        taken, source = mtime_ns / 1e9, "file"
    try:
        image = decode_image(path, min_size=HASH_DECODE_SIZE)
    except ImageDecodeError as exc:
        log.info("no perceptual hash for %s: %s", path, exc)
        return PhotoMoment(photo_id, taken, source, None)
    return PhotoMoment(photo_id, taken, source, int(str(imagehash.phash(image)), 16))


def read_moments(
    photos: Sequence[tuple[int, Path, int]],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
) -> list[PhotoMoment]:
    """:func:`read_moment` of (photo id, path, mtime_ns) triples on a few threads (Pillow decodes
    outside the GIL; no torch here), with progress and cancellation between chunks of photos."""
    moments: list[PhotoMoment] = []
    for _chunk, read in map_in_chunks(
        lambda item: read_moment(*item), photos, "finding bursts", progress, cancel, workers=workers
    ):
        moments.extend(read)
    return moments


def _exif_time(path: Path) -> tuple[float | None, str]:
    exif = read_exif(path)
    for text, subsec, source in ((exif.taken, exif.taken_subsec, "exif"), (exif.modified, None, "exif-modified")):
        taken = _parse_exif_time(text, subsec)
        if taken is not None:
            return taken, source
    return None, "file"


def _parse_exif_time(text: object, subsec: object = None) -> float | None:
    """ "2024:06:01 12:30:05" (+ sub-seconds "25" = .25 s) as seconds; None for an absent or blank time."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    digits = "".join(ch for ch in str(subsec or "") if ch.isdigit())
    fraction = float(f"0.{digits}") if digits else 0.0
    return moment.replace(tzinfo=timezone.utc).timestamp() + fraction


@dataclass
class BurstReport:
    bursts: Bursts
    read: int  # photos read just now (the rest came from the library)
    unreadable: int  # photos without a perceptual hash (they cannot be decoded): never in a burst
    from_file_time: int  # photos without an EXIF time, placed by their file's modification time
    taken: dict[int, float] = field(default_factory=dict)  # photo id -> capture time (the grid's sort)


def album_bursts(
    library: Library, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> BurstReport:
    """The album's bursts: photos not read before (or changed since) are read and kept, then all are grouped."""
    photos = library.photos()
    known = library.photo_moments()
    stale = [p for p in photos if p.id not in known or known[p.id][0] != p.content_hash]
    fresh = read_moments([(p.id, library.absolute_path(p), p.mtime_ns) for p in stale], progress, cancel)
    content = {p.id: p.content_hash for p in stale}
    library.store_photo_moments((content[m.photo_id], m) for m in fresh)
    moments = {pid: moment for pid, (_, moment) in known.items()} | {m.photo_id: m for m in fresh}
    current = [moments[p.id] for p in photos if p.id in moments]
    return BurstReport(
        group_bursts(current),
        len(fresh),
        sum(1 for m in current if m.phash is None),
        sum(1 for m in current if m.source == "file"),
        {m.photo_id: m.taken for m in current},
    )
