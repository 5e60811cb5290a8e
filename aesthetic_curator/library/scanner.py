"""Walking an album folder: which photos exist, and how to recognise each one again later.

A photo is identified by its path plus size, modification time and a fast content hash (the
first and last 64 KiB and the size), so a re-scan notices edits, and a moved or renamed file is
recognised by its hash instead of being treated as one photo removed and another added. A RAW+JPEG
pair is one photo (``raw_pairs``): the JPEG, with the RAW's name as its companion.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.images import HEIF_EXTENSIONS, IMAGE_EXTENSIONS, RAW_EXTENSIONS
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report
from aesthetic_curator.raw_pairs import pair_raw_files

log = logging.getLogger(__name__)

HASH_BLOCK = 64 * 1024
#: A folder holding this file is an export of the album's photos into the album (``export.export_photos``):
#: its copies are not photos of the album, and a scan leaves the folder out.
EXPORT_MARKER = ".aesthetic-curator-export"
#: How far ahead of this machine's clock a file's time may be and still count as "just written".
CLOCK_SLACK_NS = 5_000_000_000

_FORMAT_NAMES = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".webp": "WebP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".gif": "GIF",
}


def format_of(path: Path | str) -> str:
    """A human name for the photo's format, from its extension (e.g. JPEG, HEIF, RAW)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in HEIF_EXTENSIONS:
        return "HEIF"
    if suffix in RAW_EXTENSIONS:
        return "RAW"
    return _FORMAT_NAMES.get(suffix, suffix.lstrip(".").upper() or "unknown")


def fast_hash(path: Path, size: int) -> str:
    """Hash of size + first and last 64 KiB: cheap on huge RAW files, still changes on any edit that
    rewrites the header or the end (which every editor and camera does)."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with path.open("rb") as fh:
        digest.update(fh.read(HASH_BLOCK))
        if size > 2 * HASH_BLOCK:
            fh.seek(-HASH_BLOCK, os.SEEK_END)
            digest.update(fh.read(HASH_BLOCK))
        elif size > HASH_BLOCK:
            digest.update(fh.read())
    return digest.hexdigest()


@dataclass(frozen=True)
class ScannedFile:
    relpath: str  # POSIX path relative to the album root
    size: int
    mtime_ns: int
    content_hash: str
    format: str  # "JPEG", "RAW", ...; "RAW+JPEG" for a pair
    companion: str | None = None  # the paired RAW file's name (same folder), for a RAW+JPEG pair


@dataclass(frozen=True)
class ScanProblem:
    path: str  # relative to the album root where possible
    reason: str


@dataclass
class ScanResult:
    root: Path
    files: list[ScannedFile] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)
    ignored: int = 0  # files that are not photos (sidecars, documents, ...)
    paired: int = 0  # RAW files counted with their JPEG as one photo
    #: photos written to moments ago (still being copied): left for a later scan, a known one keeps its record
    unsettled: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)  # folders the app exported into (EXPORT_MARKER): left out

    def counts_by_format(self) -> dict[str, int]:
        return dict(sorted(Counter(f.format for f in self.files).items()))


def _is_skipped_name(name: str) -> bool:
    """Hidden files, our export temporaries and OS clutter are never photos of the album."""
    return name.startswith(".") or name in {"Thumbs.db", "desktop.ini", "@eaDir", "$RECYCLE.BIN"}


def folder_listing(folder: Path) -> frozenset[str]:
    """The names in ``folder`` a scan looks at: its photo files and its subfolders (these end in "/").

    What a folder watcher compares, so a sidecar, a thumbnail database or a hidden temporary file
    written beside the photos does not set off a scan. An unreadable folder lists nothing.
    """
    names = set()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name == EXPORT_MARKER:
                    return frozenset()  # an export's folder: its copies are not the album's
                if _is_skipped_name(entry.name):
                    continue
                try:
                    is_dir = entry.is_dir(follow_symlinks=True)
                except OSError:
                    continue
                if is_dir:
                    names.add(entry.name + "/")
                elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                    names.add(entry.name)
    except OSError:
        pass
    return frozenset(names)


def _still_written(paths: list[Path], since_ns: int, now_ns: int) -> bool:
    """Whether any of ``paths`` changed after ``since_ns`` (its content, or its name: a file moved in).

    A time well in the future (a share's clock ahead of ours) does not count, or the file would wait forever.
    """
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue  # reported by the scan itself
        latest = max(st.st_mtime_ns, st.st_ctime_ns)
        if since_ns < latest <= now_ns + CLOCK_SLACK_NS:
            return True
    return False


def scan_album(
    root: Path,
    known: Mapping[str, tuple[int, int, str]] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    with_hashes: bool = True,
    settle_seconds: float = 0.0,
) -> ScanResult:
    """Find every photo under ``root``; folders behind symlinks are followed, loops reported once.

    ``known`` maps relpath -> (size, mtime_ns, hash) from the previous scan so unchanged files are
    not re-hashed; ``with_hashes=False`` skips hashing altogether (ranking a folder needs no identity).
    ``settle_seconds``: a photo (or a pair's other file) written to within that time is still being
    copied in: it goes to ``unsettled`` instead of being hashed half-written, for a later scan.
    Unreadable folders and files are reported in ``problems``, never raised; an album folder that cannot be
    reached at all (its drive unplugged, its share gone) raises CuratorError, as its photos are not missing.
    """
    if not root.is_dir():
        raise CuratorError(
            f"the album folder {root} cannot be reached (a drive unplugged or a share disconnected?); "
            "its photos and ratings are kept: open it again once it is back (renamed or moved: open it at its "
            "new place, and its ratings come along)"
        )
    root = root.resolve()
    known = known or {}
    result = ScanResult(root)
    now_ns = time.time_ns()
    settled_before_ns = now_ns - int(settle_seconds * 1e9) if settle_seconds > 0 else None
    visited: set[tuple[int, int]] = set()
    stack: list[Path] = [root]
    while stack:
        folder = stack.pop()
        check(cancel)
        rel_folder = _relative(folder, root)
        try:
            folder_stat = folder.stat()
        except OSError as exc:
            result.problems.append(ScanProblem(rel_folder, f"cannot read folder: {exc.strerror or exc}"))
            continue
        identity = (folder_stat.st_dev, folder_stat.st_ino)
        if identity in visited:
            result.problems.append(ScanProblem(rel_folder, "symlink loop: folder already scanned, skipped"))
            continue
        visited.add(identity)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            result.problems.append(ScanProblem(rel_folder, f"cannot read folder: {exc.strerror or exc}"))
            continue
        if folder != root and any(entry.name == EXPORT_MARKER for entry in entries):
            result.exports.append(rel_folder)
            continue
        subfolders = []
        prefix = "" if folder == root else rel_folder + "/"  # a file's relpath, without pathlib per file
        pairs = pair_raw_files(entry.name for entry in entries if not _is_skipped_name(entry.name))
        companions = set(pairs.values())
        for entry in entries:
            if _is_skipped_name(entry.name):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(path)
                continue
            if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
                result.ignored += 1
                continue
            if entry.name in companions:
                continue  # travels with its JPEG (scanned with it, below)
            companion = pairs.get(entry.name)
            if settled_before_ns is not None:
                files = [path] if companion is None else [path, path.with_name(companion)]
                if _still_written(files, settled_before_ns, now_ns):
                    result.unsettled.extend(prefix + file.name for file in files)
                    continue
            if _scan_file(path, prefix + entry.name, known, result, with_hashes, companion):
                result.paired += 1 if companion is not None else 0
            elif companion is not None:  # an unusable JPEG must not hide its RAW: the RAW is a photo of its own
                _scan_file(path.with_name(companion), prefix + companion, known, result, with_hashes, None)
            report(progress, "scanning", len(result.files), 0)
        stack.extend(reversed(subfolders))
    return result


def _scan_file(
    path: Path,
    rel: str,
    known: Mapping[str, tuple[int, int, str]],
    result: ScanResult,
    with_hashes: bool,
    companion: str | None,
) -> bool:
    """Add ``path`` (``rel`` from the album root) to ``result.files`` (True), or its problem to ``result.problems``
    (False)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            result.problems.append(ScanProblem(rel, "not a regular file"))
            return False
        if st.st_size == 0:
            result.problems.append(ScanProblem(rel, "empty file"))
            return False
        previous = known.get(rel)
        if not with_hashes:
            content_hash = ""
        elif previous and previous[0] == st.st_size and previous[1] == st.st_mtime_ns:
            content_hash = previous[2]
        else:
            content_hash = fast_hash(path, st.st_size)
    except FileNotFoundError:
        result.problems.append(ScanProblem(rel, "broken link or file vanished during the scan"))
        return False
    except OSError as exc:
        result.problems.append(ScanProblem(rel, f"cannot read file: {exc.strerror or exc}"))
        return False
    kind = format_of(path) if companion is None else f"RAW+{format_of(path)}"
    result.files.append(ScannedFile(rel, st.st_size, st.st_mtime_ns, content_hash, kind, companion))
    return True


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)
