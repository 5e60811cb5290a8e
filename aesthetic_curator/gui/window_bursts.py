"""How the main window shows bursts: stacks in the grid (the best photo on top, S expands), the
"Best of each burst" filter and Photos → Reject the Rest of Each Burst; the Capture time sort, whose times
are read with them; and the Sharpness sort (focus.album_sharpness, measured once per photo, kept).

A mixin of :class:`MainWindow`. Bursts are found by the controller's "find bursts" task (bursts.py: each
photo is read once, then kept in the library); the first stack, burst filter or capture-time sort asks for it.
"""

from __future__ import annotations

from aesthetic_curator.focus import SOFT_SHARE
from aesthetic_curator.gui.photo_model import Filter, SortOrder
from aesthetic_curator.gui.window_ratings import RatingChange
from aesthetic_curator.library.store import REJECTED


class WindowBursts:
    """Stack Bursts (a checkable action), expanding a stack, the best-of-burst filter, rejecting the rest."""

    def _connect_bursts(self) -> None:
        """Stacking as the user left it; the bursts themselves are found when an album is scanned."""
        self.model.stack_bursts = self.preferences.stack_bursts
        self.stack_action.setChecked(self.model.stack_bursts)

    def _find_bursts(self) -> None:
        """Now, or once the running task has ended (one asked for while one runs is that one)."""
        controller = self.controller
        if not (controller.is_busy() and controller.task.name == "find bursts"):
            controller.when_idle("find bursts", lambda: self._bursts_in_use() and controller.find_bursts())

    def _bursts_in_use(self) -> bool:
        """Stacks, the best-of-burst filter or the capture-time sort: what the burst search serves."""
        return self.library is not None and (
            self.model.stack_bursts or self.filter_box.currentData() is Filter.BEST_OF_BURSTS or self._by_time()
        )

    def stack_bursts_toggled(self, on: bool) -> None:
        self.model.stack_bursts = self.preferences.stack_bursts = on
        if self.library is None:
            return
        if on and self.model.bursts is None:
            self._find_bursts()  # the grid stacks when the task ends
        else:
            current = self._current_id()
            self.model.refresh()
            self._reselect(current)

    def toggle_stack_clicked(self) -> None:
        """S: show a collapsed burst photo by photo, or stack it again."""
        item = self.current_item()
        if item is None:
            return
        if not self.model.stack_bursts:
            self.stack_action.setChecked(True)  # stacking on first; the next S expands
            self.stack_bursts_toggled(True)
            return
        if self.model.toggle_stack(item.id):
            self._reselect(item.id)

    def reject_rest_clicked(self) -> None:
        """Reject every burst member but its best that the user has not rated, as one undoable step (the
        culling tools' "auto-cull duplicates"); the bursts are looked for first when they were not yet."""
        if self.library is None:
            return
        if self.model.bursts is None:
            self.statusBar().showMessage("Looking for bursts first…", 5_000)
            controller = self.controller
            controller.when_idle("find bursts", controller.find_bursts)  # then this again (not if it failed)
            controller.when_idle("reject the rest", lambda: self.model.bursts is None or self.reject_rest_clicked())
            return
        rest, undecided = self.model.rest_of_bursts()
        groups = len(self.model.bursts.groups)
        if rest:
            rejected = [RatingChange(i.id, (i.stars, i.flag, i.label), (i.stars, REJECTED, i.label)) for i in rest]
            self._apply_step(rejected)
            told = f"Rejected {len(rest)} photo(s), the rest of {groups} burst(s) (Ctrl+Z takes it back)"
        else:
            told = f"Nothing to reject in {groups} burst(s)"
        if undecided:
            told += f"; {undecided} burst(s) left alone: rate one of their photos or personalize first"
        self.statusBar().showMessage(told, 15_000)

    def _album_scanned_bursts(self) -> None:
        """After a (re-)scan, bring bursts up to date when they are in use (only new photos are read)."""
        if self._bursts_in_use():
            self._find_bursts()
        self._update_sharpness()

    def _update_bursts(self) -> None:
        """The burst filter needs the bursts, and the Capture time sort their times: look for them the first
        time either is chosen (photos read before come from the library at once)."""
        wanted = self.filter_box.currentData() is Filter.BEST_OF_BURSTS and self.model.bursts is None
        if (wanted or (self._by_time() and self.model.needs_capture_times())) and self.library:
            self._find_bursts()

    def _by_time(self) -> bool:
        return self.sort_box.currentData() is SortOrder.TAKEN

    def _update_sharpness(self) -> None:
        """The Sharpness sort measures the photos not measured before, the first time it is chosen."""
        wanted = self.sort_box.currentData() is SortOrder.SHARPNESS and self.model.needs_sharpness()
        controller = self.controller
        if wanted and self.library and not (controller.is_busy() and controller.task.name == "measure sharpness"):
            controller.when_idle("measure sharpness", controller.measure_sharpness)

    def _sharpness_measured(self, shares: dict) -> None:
        current = self._current_id()
        self.model.set_sharpness(shares)
        self._reselect(current)
        soft = sum(1 for share in shares.values() if share is not None and share < SOFT_SHARE)
        told = f"Sorted {len(shares)} photos by sharpness; {soft} have almost no sharp edge (under {SOFT_SHARE:.1%})"
        self.statusBar().showMessage(told, 15_000)

    def _bursts_found(self, report) -> None:
        current = self._current_id()
        self.model.set_bursts(report.bursts, taken=report.taken)
        self._reselect(current)
        grouped = sum(len(group) for group in report.bursts.groups)
        notes = [f"{len(report.bursts.groups)} burst(s) of {grouped} photos"]
        if (
            self._by_time()
            and not self.model.stack_bursts
            and self.filter_box.currentData() is not Filter.BEST_OF_BURSTS
        ):
            notes = [f"sorted by the capture times of {len(report.taken)} photos"]  # what the user asked for
        if report.from_file_time:
            notes.append(f"{report.from_file_time} without an EXIF time (placed by file time)")
        if report.unreadable:
            notes.append(f"{report.unreadable} unreadable (never grouped)")
        self.statusBar().showMessage("; ".join(notes), 15_000)

    def _reselect(self, photo_id: int | None) -> None:
        """Keep the photo selected, or the stack it went into, or else the first tile."""
        bursts = self.model.bursts
        candidates = ([photo_id] + (bursts.members(photo_id) if bursts else [])) if photo_id is not None else []
        if not any(self.select_photo(pid) for pid in candidates) and self.model.rowCount():
            self.grid.setCurrentIndex(self.model.index(0))

    def _current_id(self) -> int | None:
        item = self.current_item()
        return item.id if item is not None else None
