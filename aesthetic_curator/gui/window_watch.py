"""The main window's album folder kept up to date: watched while open, and File → Refresh Folder (F5).

A mixin of :class:`MainWindow` (it uses the window's controller, watcher and status bar). Photos copied
into the album while it is open are found by a background re-scan once the copying pauses
(:mod:`folder_watch`); F5 re-scans by hand, for a folder the system cannot watch (some network shares)
or one past the watched limit. A re-scan that finds nothing new changes nothing on screen.
"""

from __future__ import annotations

from pathlib import Path

from aesthetic_curator.gui.folder_watch import SETTLE_SECONDS, AlbumWatcher


class WindowWatch:
    watcher: AlbumWatcher
    _refresh: str | None = None  # what started the running re-scan: "watch", "refresh" (F5); None: the opening scan

    def _watch_album(self, folder: Path) -> None:
        self.watcher.watch(folder)

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
        unsettled = len(summary.scan.unsettled)
        if unsettled:
            self.watcher.check_again_later()
        if why is None or summary.sync.any_change:
            return False
        if why == "refresh":
            still = f"; {unsettled} still being copied" if unsettled else ""
            self.statusBar().showMessage(f"No new, changed or missing photos{still}", 10_000)
        return True
