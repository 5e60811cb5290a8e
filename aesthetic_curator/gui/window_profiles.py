"""How the main window lets the user see and shape a profile: the taste panel with its sliders (Apply,
undo), blending two profiles, importing and exporting profile files, using a profile of another album, the
"hidden gems" filter, and why the selected photos score as they do.

A mixin of :class:`MainWindow` (it uses the window's controller, boxes, model and messages), kept apart so
the window module holds the album commands and this one the profile commands. Model work runs on the
controller's tasks; the window only sends choices and shows results.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.gui.blend_dialog import BlendDialog
from aesthetic_curator.gui.photo_model import Filter
from aesthetic_curator.gui.profiles_elsewhere_dialog import ProfilesElsewhereDialog
from aesthetic_curator.gui.taste_panel import TastePanel
from aesthetic_curator.library.other_albums import profiles_elsewhere
from aesthetic_curator.library.store import libraries_dir
from aesthetic_curator.model_setup import bundle_id_at
from aesthetic_curator.profile_editing import PROFILE_SUFFIX, export_profile

PROFILE_FILES = f"Aesthetic Curator profiles (*{PROFILE_SUFFIX});;All files (*)"
#: Opening an album without profiles looks for one to offer in this many of the latest written other libraries.
HINT_LIBRARIES = 20
#: Why These Scores? explains at most this many selected photos (a forward and a backward each).
MAX_EXPLAINED = 12


class WindowProfiles:
    """The taste panel and its sliders, blends, profile files and hidden gems."""

    taste_panel: TastePanel | None = None

    def _connect_profile_views(self) -> None:
        self.controller.gems_found.connect(self._gems_found)
        self.controller.explained.connect(self._scores_explained)
        self.controller.ranked.connect(self._profile_ranked)
        self.controller.task_ended.connect(self._taste_panel_idle)

    # -- the taste panel ----------------------------------------------------------------------------------
    def taste_clicked(self) -> None:
        """The taste panel of the current profile (its numbers come from the coefficients, no model pass)."""
        profile_id = self.current_profile_id()
        if self.library is None or profile_id is None:
            return
        if self.controller.model() is None:
            self.show_error("Taste panel", "No model bundle is set up: choose one in Model….")
            return
        try:
            summary, versions = self.controller.profile_taste(profile_id)
        except CuratorError as exc:
            self.show_error("Taste panel", str(exc))
            return
        if self.taste_panel is not None:
            self.taste_panel.close()
        self.taste_panel = TastePanel(self.profile_box.currentText(), summary, self, versions)
        self.taste_panel.profile_id = profile_id
        self.taste_panel.apply_requested.connect(self._apply_taste)
        self.taste_panel.undo_requested.connect(self._undo_taste)
        self.taste_panel.show()

    def _apply_taste(self, scales: dict[str, float]) -> None:
        panel = self.taste_panel
        if panel is None or not scales:
            return
        if self.is_busy():  # the sliders stay where the user put them
            self.show_error("Apply", f"Wait for “{self.task.name}” to finish, or cancel it first.")
            return
        panel.set_busy(True)  # until the task ends (_taste_panel_idle), which then shows the stored version
        self.controller.reshape_profile(panel.profile_id, scales)
        if panel.busy and not self.is_busy():
            panel.set_busy(False)  # no task was started (no album or model)

    def _undo_taste(self) -> None:
        panel = self.taste_panel
        if panel is None:
            return
        if self.is_busy():
            self.show_error("Undo", f"Wait for “{self.task.name}” to finish, or cancel it first.")
            return
        if not self.controller.undo_profile_change(panel.profile_id):
            return
        self._forget_gems(panel.profile_id)
        if self.current_profile_id() == panel.profile_id:
            self.profile_changed()  # the previous version's scores re-sort the grid at once
        self._refresh_taste_panel(panel.profile_id)
        self.statusBar().showMessage("Back to the profile's previous version and its ranking", 10_000)

    def _profile_ranked(self, result) -> None:
        """New scores for a profile: its hidden gems are stale (found again when the filter is on)."""
        if self._forget_gems(result.profile_id):
            self._update_hidden_gems()

    def _forget_gems(self, profile_id: int) -> bool:
        """Drop the hidden gems found for ``profile_id`` (its scores changed); True when there were some."""
        if self.model.hidden_gems[0] != profile_id:
            return False
        self.model.hidden_gems = (None, set())
        return True

    def _refresh_taste_panel(self, profile_id: int) -> None:
        panel = self.taste_panel
        if panel is None or panel.profile_id != profile_id or not panel.isVisible():
            return
        try:
            summary, versions = self.controller.profile_taste(profile_id)
        except CuratorError:
            return
        panel.show_summary(summary, versions)

    def _taste_panel_idle(self) -> None:
        """After an Apply ended (done, failed or cancelled): the panel shows the profile as stored now."""
        panel = self.taste_panel
        if panel is not None and panel.busy and not self.is_busy():
            panel.set_busy(False)
            self._refresh_taste_panel(panel.profile_id)

    # -- blends and files ---------------------------------------------------------------------------------
    def blend_clicked(self) -> None:
        profiles = [(p.id, p.name) for p in self.library.profiles()] if self.library is not None else []
        if len(profiles) < 2:
            self.show_info("Blend profiles", "Blending needs two profiles: personalize or import another one first.")
            return
        dialog = BlendDialog(profiles, {name for _, name in profiles}, self)
        if dialog.exec() == BlendDialog.DialogCode.Accepted:
            choice = dialog.choice()
            self.controller.blend_profiles(choice.a_id, choice.b_id, choice.weight, choice.name)

    def export_profile_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if self.library is None or profile_id is None:
            return
        start = str(self.library.album.parent / f"{self.profile_box.currentText()}{PROFILE_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Export profile", start, PROFILE_FILES)
        if path:
            self.export_profile_to(Path(path))

    def export_profile_to(self, path: Path) -> None:
        try:
            written = export_profile(self.library, self.current_profile_id(), path)  # small: written at once
        except (CuratorError, OSError) as exc:
            self.show_error("Export profile", str(exc))
            return
        self.statusBar().showMessage(f"Profile written to {written}", 10_000)

    def import_profile_clicked(self) -> None:
        if self.library is None or self._bundle_or_explain() is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import profile", str(self.library.album.parent), PROFILE_FILES)
        if path:
            self.controller.import_profile(Path(path))

    def use_profile_elsewhere_clicked(self) -> None:
        """Profile → Use a Profile from Another Album…: copy a profile taught elsewhere here and rank with it."""
        if self.library is None or (bundle := self._bundle_or_explain()) is None:
            return
        found = profiles_elsewhere(libraries_dir(), self.library.album)
        if not found:
            self.show_info(
                "Use a profile from another album",
                "No other album has a profile yet. Profiles are made by rating photos (or comparing them) in an "
                "album and pressing Personalize; each can then rank any album.",
            )
            return
        dialog = ProfilesElsewhereDialog(found, bundle_id_at(bundle), self)
        if dialog.exec() == ProfilesElsewhereDialog.DialogCode.Accepted and dialog.choice() is not None:
            self.controller.import_profile(dialog.choice())

    def _profile_elsewhere_hint(self) -> str:
        """For an album without profiles: the newest profile of another album that could rank it now ('' if none)."""
        if self.library is None or self.library.profiles():
            return ""
        bundle_id = bundle_id_at(self.preferences.bundle_path)
        nearby = profiles_elsewhere(libraries_dir(), self.library.album, recent=HINT_LIBRARIES)
        found = [p for p in nearby if p.bundle_id == bundle_id]
        if not found:
            return ""
        return (
            f"; your profile “{found[0].name}” from {found[0].album_name} can rank it now "
            "(Profile → Use a Profile from Another Album…)"
        )

    # -- hidden gems ----------------------------------------------------------------------------------------
    def _update_hidden_gems(self) -> None:
        """With the "Hidden gems" filter on, find the current profile's gems (once per profile version)."""
        profile_id = self.current_profile_id()
        if self.filter_box.currentData() is not Filter.HIDDEN_GEMS or self.library is None:
            return
        if self.controller.is_busy():  # e.g. the rank that brings the scores: looked for when it ends
            self.controller.when_idle("find hidden gems", self._update_hidden_gems)
            return
        if profile_id is None or not self.model.has_scores():
            self.model.hidden_gems = (None, set())
            self.statusBar().showMessage("Hidden gems need a ranked profile: personalize first", 10_000)
            return
        if self.model.hidden_gems[0] != profile_id and self._bundle_or_explain() is not None:
            self.controller.find_hidden_gems(profile_id)

    def _gems_found(self, profile_id: int, gems: set[int]) -> None:
        if profile_id != self.current_profile_id():  # the user chose another profile meanwhile
            self.controller.when_idle("find hidden gems", self._update_hidden_gems)
            return
        self.model.hidden_gems = (profile_id, gems)
        self.view_changed()
        self.statusBar().showMessage(
            f"{len(gems)} hidden gem(s): in this profile's top 20 % but the plain average's bottom half", 15_000
        )

    # -- why these scores ----------------------------------------------------------------------------------
    def explain_clicked(self) -> None:
        """The selected photos (at most MAX_EXPLAINED), each task's part of its score under the current profile."""
        profile_id, items = self.current_profile_id(), self.selected_items()[:MAX_EXPLAINED]
        if profile_id is None or not items:
            self.statusBar().showMessage("Select photos and choose a profile to see why they score as they do", 8_000)
        elif self._bundle_or_explain() is not None:
            self.controller.explain(profile_id, [item.id for item in items])

    def _scores_explained(self, answer) -> None:
        items = {str(item.path): item for item in self.model.visible_items()}
        lines = []
        for photo in answer.photos:
            item = items.get(str(photo.path))
            name = item.name_text() if item is not None else photo.path.name
            rank = f"#{item.rank}, " if item is not None and item.rank is not None else ""
            lines.append(f"{name} ({rank}score {photo.score:.2f}): {photo.summary()}")
        mean = f"{answer.reference_score:.2f}"
        intro = f"Against {answer.reference_count} of the photos you judged (their average score {mean}), what"
        intro += " lifts each photo (+) and what holds it back (−), as your profile weighs the tasks:\n\n"
        parts = [f"{photo.path.name}: {_parts_text(photo)}" for photo in answer.photos]
        self.show_info("Why these scores", intro + "\n".join(lines) + "\n\nEach task's part:\n" + "\n".join(parts))

    def _update_profile_actions(self, has_profile: bool, busy: bool) -> None:
        for action in (self.rename_profile_action, self.taste_action, self.export_profile_action, self.explain_action):
            action.setEnabled(has_profile)
        self.delete_profile_action.setEnabled(has_profile and not busy)
        free = self.library is not None and not busy
        self.import_profile_action.setEnabled(free)
        self.profile_elsewhere_action.setEnabled(free)
        self.blend_action.setEnabled(free and len(self.library.profiles()) >= 2)


def _parts_text(photo) -> str:
    """Each part that shows at two decimals, the largest first, the others counted in one go, then the rest."""
    shown = sorted(((t, v) for t, v in photo.parts.items() if round(v, 2) != 0), key=lambda item: -item[1])
    pieces = [f"{task} {part:+.2f}" for task, part in shown]
    if len(shown) < len(photo.parts):
        pieces.append(f"{len(photo.parts) - len(shown)} other task(s) ±0.00")
    return "; ".join([", ".join(pieces), f"the rest (the network itself) {photo.rest:+.2f}"])
