"""The main window's album folder kept up to date: watched while open, and File → Refresh Folder (F5).

A mixin of :class:`MainWindow` (it uses the window's controller, watcher and status bar). Photos copied
into the album while it is open are found by a background re-scan once the copying pauses
(:mod:`folder_watch`); F5 re-scans by hand, for a folder the system cannot watch (some network shares)
or one past the watched limit. A re-scan that finds nothing new changes nothing on screen; one that finds new
or changed photos (or the scan on opening) has the current profile score just those and fit them into its
ranking, when it has ranked the album (``curation.rank_new_photos``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from aesthetic_curator.gui.folder_watch import SETTLE_SECONDS, AlbumWatcher

log = logging.getLogger(__name__)


class WindowWatch:
    watcher: AlbumWatcher
    _refresh: str | None = None  # what started the running re-scan: "watch", "refresh" (F5); None: the opening scan
    _rescanned = False  # whether the scan that ended last was a re-scan

    def _watch_album(self, folder: Path) -> None:
        """Watch a newly opened album; the scan that follows is its opening scan, not a re-scan."""
        self._refresh = None
        self.watcher.watch(folder)

    def _album_renamed(self, folder: Path) -> None:
        """The open album's folder was renamed (in a file manager): go on with it under its new name. Its library
        comes along (``moved_album``), with the remembered profile and view and the photo the user was on."""
        self.open_album(folder)

    def refresh_clicked(self) -> None:
        self._rescan("refresh")

    def _folder_changed(self) -> None:
        self._rescan("watch")

    def _rescan(self, why: str) -> None:
        """Re-scan now, or once the running task has ended (one waits; a later ask replaces it)."""

        def start() -> None:
            if self.library is not None:
                self._refresh = why
                self.controller.scan(settle_seconds=SETTLE_SECONDS)

        self.controller.when_idle("scan", start)

    def _refreshed(self, summary) -> bool:
        """After any scan: whether it was a re-scan that found nothing to show (the grid then stays as it is).

        Photos still being copied in are looked for again shortly."""
        why, self._refresh = self._refresh, None
        self._rescanned = why is not None
        self.watcher.ensure_watched()
        unsettled = len(summary.scan.unsettled)
        if unsettled:
            self.watcher.check_again_later()
        if why is None or summary.sync.any_change:
            return False
        if why == "refresh":
            still = f"; {unsettled} still being copied" if unsettled else ""
            self.statusBar().showMessage(f"No new, changed or missing photos{still}", 10_000)
        return True

    def _scan_report(self, summary) -> str:
        """The status line after a scan that changed something: how many photos, what changed, what was skipped
        (each in the log), and, once, that the album's library came from where the folder was before."""
        sync, problems = summary.sync, summary.scan.problems
        parts = [f"{len(self.model.all_items())} photos"]
        if sync.added:
            parts.append(f"{len(sync.added)} new")
        if sync.removed:
            parts.append(f"{len(sync.removed)} missing")
        if summary.scan.paired:
            parts.append(f"{summary.scan.paired} of them RAW+JPEG")
        if problems:
            parts.append(f"{len(problems)} skipped (see log)")
            for problem in problems:
                log.warning("skipped %s: %s", problem.path, problem.reason)
        carried, self.library.carried_from = self.library.carried_from, None
        kept = f"; ratings, profiles and rankings kept from {carried} (the folder was moved or renamed)"
        hint = "" if self._rescanned else self._profile_elsewhere_hint()
        return ", ".join(parts) + (kept if carried is not None else "") + hint

    def _new_photos_found(self, summary) -> None:
        """After a scan: the current profile scores the photos it found new or changed (in the background); after
        a re-scan, with File → Show New Photos as They Arrive on, the newest new photo is selected (and shown in
        the loupe when it is open), as Lightroom's tethered capture shows each frame as it comes in."""
        found = set(summary.sync.added + summary.sync.changed)
        if found:
            self._fit_into_ranking([item.id for item in self.model.all_items() if item.photo.relpath in found])
        added = set(summary.sync.added)
        arrived = [item for item in self.model.all_items() if item.photo.relpath in added]
        if arrived and self._rescanned and self.follow_new_action.isChecked():
            self.select_photo(max(arrived, key=lambda item: (item.photo.mtime_ns, item.photo.relpath)).id)

    def _fit_photos_scored_elsewhere(self) -> None:
        """After switching profiles: photos fitted into another profile's ranking meanwhile, into this one's."""
        profile_id = self.current_profile_id()
        if profile_id is not None and self.library is not None and self.model.has_scores():
            self._fit_into_ranking(self.library.scored_elsewhere(profile_id))

    def _fit_into_ranking(self, photo_ids: list[int]) -> None:
        profile_id = self.current_profile_id()
        if profile_id is not None and photo_ids and self.library is not None:
            start = lambda: self.controller.rank_new_photos(profile_id, photo_ids)  # noqa: E731
            self.controller.when_idle("rank new photos", start)

    def _new_photos_ranked(self, result) -> None:
        if result is None or self.library is None or self.current_profile_id() != result.profile_id:
            return
        current = self._current_id()
        self.model.set_scores(self.library.scores(result.profile_id))
        self._reselect(current)  # the grid re-sorted: the photo the user is on (or the one just arrived) stays
        self._profile_ranked(result)  # a new photo may be a hidden gem: found again when that filter is on
        placed = f"{result.placement} with “{self.profile_box.currentText()}”" if result.placement else ""
        skipped = f"{len(result.skipped)} new photo(s) unreadable, skipped" if result.skipped else ""
        self.statusBar().showMessage("; ".join(part for part in (placed, skipped) if part), 15_000)
