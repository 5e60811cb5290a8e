"""How the main window takes ratings: Lightroom's keys on every selected photo (stars, flags and colour
labels), Edit → Undo / Redo Rating, and Edit → Advance After Rating (a key rates one photo and moves on,
Lightroom's Caps Lock mode).

A mixin of :class:`MainWindow`. Each key press is one step of the history (all the photos it rated), so a
mistyped star or an X on the wrong frame comes back with Ctrl+Z, as in every photo app; the history is the
open album's, this session's, and starts again when an album opens or ratings are imported from XMP.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from aesthetic_curator.gui.photo_grid import RATING_KEYS
from aesthetic_curator.paths import display_path

#: Key presses kept for undo.
HISTORY_STEPS = 500


#: What a rating key sets on a photo: (stars, flag, colour label).
RatingState = tuple[int | None, int, str | None]


@dataclass(frozen=True)
class RatingChange:
    """One photo's rating before and after a key press."""

    photo_id: int
    before: RatingState
    after: RatingState


class WindowRatings:
    """Rating keys, and undo/redo of what they did."""

    def _forget_rating_history(self) -> None:
        self._undo: list[list[RatingChange]] = []
        self._redo: list[list[RatingChange]] = []
        self._update_undo_actions()

    def handle_rating_key(self, event: QKeyEvent, items: list | None = None) -> None:
        """Rate the selected photos (or ``items``: the survey's photo, which never advances the grid)."""
        part, value = RATING_KEYS[Qt.Key(event.key())]
        advance = items is None and self.advance_action.isChecked()
        items = self.selected_items() if items is None else items
        if self.library is None or not items:
            return
        changes = []
        for item in items:
            before = (item.stars, item.flag, item.label)
            if part == "stars":
                after = (value, item.flag, item.label)
            elif part == "flag":  # pressing P on a pick (or X on a reject) clears it, as in Lightroom
                after = (item.stars, 0 if value != 0 and item.flag == value else value, item.label)
            else:  # a colour label's key on a photo with that label takes it off, as in Lightroom
                after = (item.stars, item.flag, None if item.label == value else value)
            changes.append(RatingChange(item.id, before, after))
        self._apply_step(changes)
        if advance and len(items) == 1:
            self._step_photo(1)  # the next photo in the grid (the loupe follows it)

    def _apply_step(self, changes: list[RatingChange]) -> None:
        """Apply ``changes`` as one step of the history (one Ctrl+Z takes them all back)."""
        self._undo = [*self._undo, changes][-HISTORY_STEPS:]
        self._redo = []
        self._apply_ratings([(change.photo_id, change.after) for change in changes])

    def undo_rating(self) -> None:
        """Ctrl+Z: the last key press's photos get their earlier ratings back (and are selected)."""
        if self._undo:
            changes = self._undo.pop()
            self._redo.append(changes)
            self._apply_ratings([(change.photo_id, change.before) for change in changes], "Undid")

    def redo_rating(self) -> None:
        if self._redo:
            changes = self._redo.pop()
            self._undo.append(changes)
            self._apply_ratings([(change.photo_id, change.after) for change in changes], "Redid")

    def _apply_ratings(self, ratings: list[tuple[int, RatingState]], told: str = "") -> None:
        for photo_id, (stars, flag, label) in ratings:
            item = self.model.item(photo_id)
            if item is None or (item.stars, item.flag) != (stars, flag):
                self.library.set_rating(photo_id, stars=stars, flag=flag)
            if item is None or item.label != label:
                self.library.set_label(photo_id, label)
            self.model.set_rating(photo_id, stars, flag, label)
        if told and ratings:  # show what came back: the grid may have scrolled on since
            self.select_photo(ratings[0][0])
            item = self.current_item()
            name = f" of {display_path(item.photo.relpath)}" if item is not None and len(ratings) == 1 else ""
            photos = f" of {len(ratings)} photos" if len(ratings) > 1 else name
            self.statusBar().showMessage(f"{told} the rating{photos}", 5_000)
        for photo_id, _ in ratings:  # the large views showing them say so too
            item = self.model.item(photo_id)
            for view in (self.loupe, self.survey):
                if item is not None and view is not None and view.isVisible():
                    view.update_caption(item)
        self.controller.ratings_changed()
        self._update_actions()
        self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        self.undo_rating_action.setEnabled(bool(self._undo))
        self.redo_rating_action.setEnabled(bool(self._redo))
