"""Watching the open album's folders, so photos copied in while the app is open appear by themselves.

A card being imported, a tethered camera writing into the folder, another app's export: each adds
photos while the album is open, and a user expects to see them without re-opening it (Lightroom's auto
import, Photo Mechanic's live ingest). Qt's :class:`QFileSystemWatcher` says that a folder changed; once
the changes have paused for :data:`QUIET_MS` (or every :data:`LONGEST_WAIT_S` while they go on: a card import
adds photos for minutes, the first ones show while the rest arrive), the watcher compares each changed
folder's photo names and subfolders (``scanner.folder_listing``: one listing per folder per pause, not one
per file) with what it saw before, and asks for one re-scan if they differ; so an XMP sidecar, a thumbnail
database or a hidden temporary file written there sets nothing off. That scan leaves the files still being
written for a later one (``scan_album(settle_seconds=SETTLE_SECONDS)``): no event comes when a copy
ends, so :meth:`AlbumWatcher.check_again_later` asks for that scan by the clock.

Qt says nothing when the watched album folder itself is renamed (inotify's move of the watched folder is not
reported), so the album's parent folder is watched too: when it changes and the album is gone from its path,
:attr:`AlbumWatcher.moved` says where it went, found in that parent by its file system identity (a rename in
place, as a file manager does); moved elsewhere, unplugged or removed, the next scan says it cannot be reached.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from aesthetic_curator.library.scanner import folder_listing

log = logging.getLogger(__name__)

#: Folders watched at most (each costs an inotify watch on Linux, whose default limit is 8,192 per user);
#: the folders past it are still scanned on opening and by File → Refresh Folder (F5), only not watched.
MAX_WATCHED_FOLDERS = 1000
#: Changes must pause this long before the re-scan ...
QUIET_MS = 2000
#: ... or have gone on this long.
LONGEST_WAIT_S = 10.0
#: A photo written to within this is still being copied in: the scan leaves it for the next one (less than
#: QUIET_MS, so a file copied in one go is settled by the time its scan runs).
SETTLE_SECONDS = 1.5
#: How soon to look again for photos that were still being written.
RECHECK_MS = 3000


class AlbumWatcher(QObject):
    """Says when the photos or folders of the watched album changed (:attr:`changed`), once they settle."""

    changed = Signal()
    moved = Signal(object)  # the album folder's new path after a rename in its parent folder

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._folder_changed)
        self._listings: dict[str, frozenset[str]] = {}  # watched folder -> its photo names and subfolders
        self._real: set[str] = set()  # their real paths: a folder reached twice through a symlink is watched once
        self._changed_folders: set[str] = set()  # reported by Qt since the last pause, compared at the next
        self._quiet = QTimer(self, singleShot=True, interval=QUIET_MS)
        self._quiet.timeout.connect(self._changes_paused)
        self._recheck = QTimer(self, singleShot=True, interval=RECHECK_MS)
        self._recheck.timeout.connect(self.changed)
        self._waiting_since = 0.0  # when the first change the next scan will see came (time.monotonic)
        self.root: Path | None = None
        self.incomplete = False  # more folders than MAX_WATCHED_FOLDERS: some are not watched
        self._parent: str | None = None  # the album's parent folder, watched for the album being renamed away
        self._identity: tuple[int, int] | None = None  # the album folder's (device, inode)

    @property
    def folders(self) -> list[Path]:
        """The folders watched now."""
        return [Path(folder) for folder in self._listings]

    def watch(self, root: Path) -> None:
        """Watch ``root`` and the folders under it (as the scan walks them: hidden ones left out)."""
        self.stop()
        self.root = root
        self._add_tree(root)
        try:
            info = root.stat()
        except OSError:
            return
        self._identity = (info.st_dev, info.st_ino)
        if root.parent != root and self._watcher.addPath(os.fspath(root.parent)):
            self._parent = os.fspath(root.parent)

    def stop(self) -> None:
        """Watch nothing (the album closed)."""
        self._quiet.stop()
        self._recheck.stop()
        self._changed_folders.clear()
        watched = self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)
        self._listings.clear()
        self._real.clear()
        self.root = None
        self.incomplete = False
        self._parent = self._identity = None

    def ensure_watched(self) -> None:
        """Watch the album again after its folder went away and came back (a drive unplugged, then back)."""
        if self.root is not None and os.fspath(self.root) not in self._listings:
            self._add_tree(self.root)

    def check_again_later(self) -> None:
        """Ask for another scan in :data:`RECHECK_MS`: some photos were still being written."""
        if self.root is not None and not self._recheck.isActive():
            self._recheck.start(RECHECK_MS)

    def _add_tree(self, top: Path) -> None:
        stack = [top]
        while stack:
            folder = stack.pop()
            key, real = os.fspath(folder), os.path.realpath(folder)
            if key in self._listings or real in self._real:
                continue
            if len(self._listings) >= MAX_WATCHED_FOLDERS:
                if not self.incomplete:
                    log.info("watching the first %d folders of %s only", MAX_WATCHED_FOLDERS, self.root)
                self.incomplete = True
                return
            if not self._watcher.addPath(key):
                log.debug("cannot watch %s", key)
                continue
            listing = folder_listing(folder)
            self._listings[key] = listing
            self._real.add(real)
            stack.extend(folder / name[:-1] for name in sorted(listing, reverse=True) if name.endswith("/"))

    def _folder_changed(self, key: str) -> None:
        if key == self._parent:
            self._parent_changed()
        elif key in self._listings:
            self._changed_folders.add(key)
            self._wait_for_quiet()

    def _parent_changed(self) -> None:
        """The album's parent folder changed: if the album is gone from its path, say where it went."""
        root, parent = self.root, self._parent
        if root is None or parent is None or root.is_dir():
            return  # something else changed there (or the album was renamed and renamed back)
        new = None
        try:
            with os.scandir(parent) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        if (info.st_dev, info.st_ino) == self._identity:
                            new = Path(entry.path)
                            break
        except OSError as exc:
            log.debug("cannot look for %s in %s: %s", root.name, parent, exc)
        if new is None:  # unplugged, moved elsewhere or removed: the next scan says it cannot be reached
            return
        log.info("album folder %s renamed to %s", root, new)
        self.stop()
        self.moved.emit(new)

    def _changes_paused(self) -> None:
        changed, self._changed_folders = self._changed_folders, set()
        if [key for key in sorted(changed) if self._listing_changed(key)]:  # every folder looked at
            self.changed.emit()

    def _listing_changed(self, key: str) -> bool:
        """Whether the folder's photo names or subfolders differ from before (new subfolders are watched)."""
        folder, before = Path(key), self._listings.get(key)
        if before is None:
            return False
        if not folder.is_dir():  # removed or renamed away: Qt stops watching it; its parent's change says so
            del self._listings[key]
            self._real.discard(os.path.realpath(folder))
            self._watcher.removePath(key)  # if Qt still holds it: watched afresh when it is back (ensure_watched)
            return True
        listing = folder_listing(folder)
        if listing == before:
            return False  # a sidecar, a temporary file: nothing a scan looks for by name
        self._listings[key] = listing
        for name in sorted(listing - before):
            if name.endswith("/"):
                self._add_tree(folder / name[:-1])
        return True

    def _wait_for_quiet(self) -> None:
        """(Re)start the wait for the changes to pause, unless they have gone on for LONGEST_WAIT_S already."""
        now = time.monotonic()
        if not self._quiet.isActive():
            self._waiting_since = now
            self._quiet.start(QUIET_MS)
        elif now - self._waiting_since < LONGEST_WAIT_S:
            self._quiet.start(QUIET_MS)
