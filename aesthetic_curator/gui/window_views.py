"""How the main window shows the album: the loupe, the survey, the profile whose scores sort the grid, sort and
filter.

A mixin of :class:`MainWindow` (it uses the window's grid, model, boxes and library), kept apart so the
window module holds the commands and this one the views.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox

from aesthetic_curator import curation
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.focus import FOCUS_LEVELS
from aesthetic_curator.gui.loupe import LoupeDialog
from aesthetic_curator.gui.photo_grid import is_rating_key
from aesthetic_curator.gui.photo_model import PHOTO_ROLE, Filter, PhotoItem, SortOrder
from aesthetic_curator.gui.photo_overlays import PhotoOverlays
from aesthetic_curator.gui.survey_dialog import MAX_SURVEYED, SurveyDialog
from aesthetic_curator.profile_progress import ProfileProgress, learned_from_metadata

#: The Show filters that take a number (the box beside them).
VALUED_FILTERS = (Filter.TOP_N, Filter.TOP_PERCENT, Filter.MIN_SCORE, Filter.MIN_STARS)


class WindowViews:
    """The loupe, the survey, profile choice (rename, delete), and the grid's sort order and filter."""

    _number_before_stars: float | None = None  # the Show box's number while "Stars at least" borrows it

    # -- loupe ----------------------------------------------------------------------------------------------
    def open_loupe(self) -> None:
        item = self.current_item()
        if item is None:
            return
        if self.loupe is None:
            self.loupe = LoupeDialog(self)
            self.loupe.navigate.connect(self._step_photo)
            self.loupe.key_rating.connect(self._loupe_key)
            self.loupe.finished.connect(self._give_keys_back)
            self.loupe.set_histogram_shown(self.preferences.loupe_histogram)
            self.loupe.histogram_toggled.connect(lambda shown: setattr(self.preferences, "loupe_histogram", shown))
            self._keep_overlay_choices(self.loupe.overlays)
        self._show_overlay_choices(self.loupe.overlays)
        self.loupe.show()
        self.loupe.raise_()
        self.loupe.activateWindow()  # its keys (Z, ←/→, stars) go to it, also where no window manager hands focus
        self._show_in_loupe(item)

    def open_survey(self) -> None:
        """N: the selected photos side by side (in the grid's order), to choose among similar frames."""
        items = sorted(self.selected_items(), key=lambda item: self.model.row_of(item.id) or 0)
        if len(items) < 2:
            hint = f"Select 2 to {MAX_SURVEYED} photos (Shift or Ctrl + click) to survey them together"
            self.statusBar().showMessage(hint, 8_000)
            return
        self._prepare_survey().show_items(items)
        self._raise_survey()
        if len(items) > MAX_SURVEYED:
            self.statusBar().showMessage(f"Surveying the first {MAX_SURVEYED} of {len(items)} selected photos", 8_000)

    def open_candidates(self) -> None:
        """C: the current photo as the select, the next as the candidate, walking through the selected photos
        (two or more), a stacked burst's frames (in shooting order), or else the whole grid (in its order)."""
        item = self.current_item()
        if item is None:
            return
        chosen = sorted(self.selected_items(), key=lambda chosen: self.model.row_of(chosen.id) or 0)
        if len(chosen) >= 2:
            sequence = chosen
        elif item.stacked and self.model.bursts is not None:
            sequence = [frame for pid in self.model.bursts.members(item.id) if (frame := self.model.item(pid))]
        else:
            sequence = self.model.visible_items()
        if len(sequence) < 2:
            self.statusBar().showMessage("Nothing to compare this photo with", 8_000)
            return
        ids = [other.id for other in sequence]
        self._prepare_survey().show_candidates(sequence, ids.index(item.id) if item.id in ids else 0)
        self._raise_survey()

    def _prepare_survey(self) -> SurveyDialog:
        if self.survey is None:
            self.survey = SurveyDialog(self)
            self.survey.key_rating.connect(self._survey_key)
            self.survey.finished.connect(self._survey_closed)
            self._keep_overlay_choices(self.survey.overlays)
        self._show_overlay_choices(self.survey.overlays)
        return self.survey

    def _keep_overlay_choices(self, overlays: PhotoOverlays) -> None:
        """M, Shift+M and J pressed in a view are one setting for the loupe, the survey and the compare view."""
        overlays.focus_toggled.connect(lambda shown: setattr(self.preferences, "loupe_focus", shown))
        overlays.clipping_toggled.connect(lambda shown: setattr(self.preferences, "loupe_clipping", shown))
        overlays.focus_level_changed.connect(lambda level: setattr(self.preferences, "focus_level", level))

    def _show_overlay_choices(self, overlays: PhotoOverlays) -> None:
        """A view opened: the overlays and focus peaking's sensitivity as last chosen in any view."""
        level = self.preferences.focus_level
        overlays.show(
            self.preferences.loupe_focus, self.preferences.loupe_clipping, level if level in FOCUS_LEVELS else "normal"
        )

    def _raise_survey(self) -> None:
        self.survey.show()
        self.survey.raise_()
        self.survey.activateWindow()

    def _survey_closed(self) -> None:
        """Back to the grid; from select and candidate, on the select (the frame that won)."""
        if self.survey is not None and self.survey.sequence and self.survey.items:
            self.select_photo(self.survey.items[0].id)
        self._give_keys_back()

    def _survey_key(self, photo_id: int, event: QKeyEvent) -> None:
        item = self.model.item(photo_id)
        if is_rating_key(event) and item is not None:
            self.handle_rating_key(event, [item])
        else:
            self._loupe_key(event)  # undo, redo

    def _show_in_loupe(self, item: PhotoItem) -> None:
        """The photo, and the grid's next and previous ones to decode ahead (flipping on shows them at once)."""
        row = self.grid.currentIndex().row()
        rows = [r for r in (row + 1, row - 1, row + 2) if 0 <= r < self.model.rowCount() and r != row]
        place = f"{row + 1} / {self.model.rowCount()}"  # how far through the (filtered) grid
        self.loupe.show_item(item, [self.model.index(r).data(PHOTO_ROLE).path for r in rows], place)

    def _give_keys_back(self) -> None:
        """Give the keyboard back to the photos when the loupe or the compare view closes: where no window
        manager does (seen under Xvfb), focus stayed with the closed view, and Ctrl+L or a star key after Esc
        went nowhere."""
        self.activateWindow()
        self.grid.setFocus()

    def _step_photo(self, step: int) -> None:
        """The grid's next (+1) or previous (-1) photo becomes the current one (the loupe follows)."""
        row = self.grid.currentIndex().row() + step
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row)
            self.grid.selectionModel().setCurrentIndex(index, self.grid.selectionModel().SelectionFlag.ClearAndSelect)

    def _loupe_key(self, event: QKeyEvent) -> None:
        if is_rating_key(event):
            self.handle_rating_key(event)
        elif event.matches(QKeySequence.StandardKey.Undo):  # the window's shortcuts do not reach the loupe
            self.undo_rating()
        elif event.matches(QKeySequence.StandardKey.Redo):
            self.redo_rating()
        elif QKeySequence(event.keyCombination()) == self.explain_action.shortcut():  # Ctrl+I: the photo shown
            self.explain_clicked()

    # -- what the user has told the app ---------------------------------------------------------------------
    def _update_counter(self, readiness: curation.RatingReadiness | None) -> None:
        if readiness is None:
            self.counter_label.setText("Open a folder of photos to start (File → Open Folder, or drop a folder here)")
            return
        told = f"Rated {readiness.rated}" + (f", compared {readiness.comparisons}" if readiness.comparisons else "")
        profile = self._current_profile_status(readiness)
        if profile:
            self.counter_label.setText(f"{told} — {profile}")
            return
        more = f"; more answers help, up to about {curation.ENOUGH_RATINGS}" if readiness.ready else ""
        self.counter_label.setText(f"{told} — {readiness.explain()}{more}")

    def _current_profile_status(self, readiness: curation.RatingReadiness) -> str:
        """The current profile in one line, once it can say more than its name: how well it knows the user
        and whether their answers changed since it learned ('' when it cannot, e.g. an imported profile)."""
        profile_id = self.current_profile_id()
        stored = next((p for p in self.library.profiles() if p.id == profile_id), None) if self.library else None
        if stored is None or not readiness.ready:
            return ""
        if (there := _brought_from(stored.metadata)) is not None:  # what it knew was about that album's answers
            return f"“{stored.name}” from {there}; Personalize to learn from your answers here"
        progress = ProfileProgress.from_metadata(stored.metadata)
        parts = [part for part in (progress.describe(), progress.since(readiness.answers, readiness.digest)) if part]
        return f"“{stored.name}” " + "; ".join(parts) if parts else ""

    # -- profiles -------------------------------------------------------------------------------------------
    def current_profile_id(self) -> int | None:
        data = self.profile_box.currentData()
        return int(data) if data is not None else None

    def _reload_profiles(self, select: int | None = None) -> None:
        self.profile_box.blockSignals(True)
        self.profile_box.clear()
        profiles = self.library.profiles() if self.library is not None else []
        if not profiles:
            self.profile_box.addItem("(none yet)", None)
        for profile in profiles:
            self.profile_box.addItem(profile.name, profile.id)
        wanted = select
        if wanted is None and self.library is not None:
            remembered = self.preferences.profile_for(self.library.album)
            wanted = next((p.id for p in profiles if p.name == remembered), None)
        if wanted is not None:
            self.profile_box.setCurrentIndex(max(0, self.profile_box.findData(wanted)))
        self.profile_box.blockSignals(False)
        self.profile_box.setToolTip(self._profile_details(self.current_profile_id()))

    def profile_changed(self) -> None:
        """Scores are stored per profile, so switching re-sorts at once, without any model work."""
        if self.library is None:
            return
        profile_id = self.current_profile_id()
        if profile_id is not None:
            self.preferences.set_profile_for(self.library.album, self.profile_box.currentText())
        current = self._current_id()
        self.model.set_scores(self.library.scores(profile_id) if profile_id is not None else {})
        self._reselect(current)
        self._fit_photos_scored_elsewhere()
        self.profile_box.setToolTip(self._profile_details(profile_id))
        self._update_hidden_gems()
        self._update_actions()

    def _profile_details(self, profile_id: int | None) -> str:
        """The profile's details (shown on the profile box): what it learned from and how well it knows you."""
        stored = next((p for p in self.library.profiles() if p.id == profile_id), None) if self.library else None
        if stored is None:
            return "no profile yet: rate or compare some photos and press Personalize"
        meta, extra = stored.metadata, stored.metadata.get("extra") or {}
        progress = ProfileProgress.from_metadata(meta)
        told = learned_from_metadata(meta) or "0 photos"
        there = _brought_from(meta)
        where = f"brought from album “{there}”, where it " if there else ""
        lines = [f"“{stored.name}”: {where}learned from {told}"]
        if there and (knew := ProfileProgress.from_metadata({"agreement": meta.get("agreement_there")})).agreement:
            lines.append(f"there it {knew.describe()}")
        if extra.get("top_tuned"):
            # Under 50 photos rated with stars the solver keeps the start's coefficients (steps 0): say what they are.
            start = "each task weighted by its agreement with you" if extra.get("steps") == 0 else "coefficients"
            lines.append(f"{start}, then its {extra['top_tuned']} fine-tuned on your judgements")
        lines.append(progress.describe())
        lines.append(f"solver {meta.get('solver', '?')}, created {meta.get('created', '?')}")
        return "\n".join(line for line in lines if line)

    def rename_profile_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if self.library is None or profile_id is None:
            return
        name, ok = QInputDialog.getText(self, "Rename profile", "New name:", text=self.profile_box.currentText())
        if ok and name.strip():
            try:
                self.library.rename_profile(profile_id, name.strip())
            except CuratorError as exc:
                self.show_error("Rename profile", str(exc))
                return
            self._reload_profiles(select=profile_id)

    def delete_profile_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if self.library is None or profile_id is None:
            return
        answer = QMessageBox.question(
            self, "Delete profile", f"Delete the profile “{self.profile_box.currentText()}” and its scores?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.library.delete_profile(profile_id)
            self._reload_profiles()
            self.profile_changed()

    # -- sorting and filtering ---------------------------------------------------------------------------------
    def view_changed(self) -> None:
        filter_ = self.filter_box.currentData()
        self.filter_value_action.setVisible(filter_ in VALUED_FILTERS)
        self.filter_value.setSuffix({Filter.TOP_PERCENT: " %", Filter.MIN_STARS: " ★"}.get(filter_, ""))
        self.filter_value.setDecimals(0 if filter_ in (Filter.TOP_N, Filter.MIN_STARS) else 1)
        stars = filter_ is Filter.MIN_STARS
        if stars != (self._number_before_stars is not None):  # stars go 1-5: the other number comes back after
            self.filter_value.blockSignals(True)
            if stars:
                number = self._number_before_stars = self.filter_value.value()
                self.filter_value.setRange(1, 5)
                self.filter_value.setValue(number if 1 <= number <= 5 else 4)  # show_view may have set the stars
            else:
                self.filter_value.setRange(0, 1_000_000)
                self.filter_value.setValue(self._number_before_stars)
                self._number_before_stars = None
            self.filter_value.blockSignals(False)
        self._update_hidden_gems()
        self._update_bursts()
        self._update_sharpness()
        current = self.current_item()
        self.model.set_view(
            self.sort_box.currentData(),
            self.filter_box.currentData(),
            self.filter_value.value(),
            self.label_box.currentData(),
        )
        if current is not None:
            self.select_photo(current.id)

    def show_view(self, order: SortOrder, filter_: Filter = Filter.ALL, value: float | None = None) -> None:
        for box, data in ((self.sort_box, order), (self.filter_box, filter_)):
            box.blockSignals(True)
            box.setCurrentIndex(box.findData(data))
            box.blockSignals(False)
        if value is not None:
            self.filter_value.blockSignals(True)
            self.filter_value.setValue(value)
            self.filter_value.blockSignals(False)
        self.view_changed()

    def _remember_view(self) -> None:
        """Keep how the open album's grid is left (sort, filter, colour label, current photo) for its next open."""
        if self.library is None:
            return
        current = self.current_item()
        filter_ = self.filter_box.currentData()
        self.preferences.set_view_for(
            self.library.album,
            {
                "sort": self.sort_box.currentData().name,
                "filter": (Filter.ALL if filter_ is Filter.SUGGESTED else filter_).name,  # suggestions are not kept
                "value": self.filter_value.value(),
                "label": self.label_box.currentData(),
                "photo": current.photo.relpath if current is not None else None,
            },
        )

    def _restore_view(self) -> None:
        """Show the album as it was left (:meth:`_remember_view`); an album not seen before keeps the sort in
        use but shows all its photos, since a filter carried over ("Rejected", "Top 50") could empty the grid."""
        view = self.preferences.view_for(self.library.album)
        order = SortOrder.__members__.get(str(view.get("sort")), self.sort_box.currentData())
        filter_ = Filter.__members__.get(str(view.get("filter")), Filter.ALL)
        value = view.get("value")
        label = self.label_box.findData(view.get("label"))
        self.label_box.blockSignals(True)
        self.label_box.setCurrentIndex(max(0, label))
        self.label_box.blockSignals(False)
        self.show_view(order, filter_, float(value) if isinstance(value, int | float) else None)
        photo = self.library.photo(view["photo"]) if isinstance(view.get("photo"), str) else None
        self.grid.scrollToTop()  # where a photo not found leaves the grid; a photo found is scrolled to
        self._reselect(photo.id if photo is not None else None)  # or the stack it is in, or else the first tile

    def show_ranking(self) -> None:
        """The grid by personal score, from the top, keeping the filter unless it is the suggestions to rate:
        they keep the order they were offered in, so the ranking the user just asked for would not show."""
        filter_ = self.filter_box.currentData()
        self.show_view(SortOrder.SCORE, Filter.ALL if filter_ is Filter.SUGGESTED else filter_)
        if self.model.rowCount():
            self.grid.setCurrentIndex(self.model.index(0))
            self.grid.scrollToTop()


def _brought_from(metadata: dict) -> str | None:
    """The name of the album a profile was copied from (Profile → Use a Profile from Another Album…), or None."""
    where = metadata.get("from_album")
    return Path(where).name or where if isinstance(where, str) and where else None
