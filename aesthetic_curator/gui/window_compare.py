"""The main window's "A or B?" questions: the compare view, its pairs and answers, and undo.

A mixin of :class:`MainWindow` (it uses the window's controller, library and profile box). Pairs are
chosen by the controller off the UI thread; answers go straight to the album library.
"""

from __future__ import annotations

from aesthetic_curator import curation
from aesthetic_curator.gui.compare_dialog import CompareDialog, ComparePair
from aesthetic_curator.paths import display_path

#: Questions asked per batch (the next batch is chosen while the last few are answered).
PAIRS_PER_BATCH = 10


class WindowCompare:
    compare: CompareDialog | None = None

    def compare_clicked(self) -> None:
        if self.library is None:
            return
        if self.compare is None:
            self.compare = CompareDialog(self)
            self.compare.answered.connect(self._compare_answered)
            self.compare.undo_requested.connect(self._compare_undo)
            self.compare.wants_more.connect(self._ask_for_pairs)
            self.compare.finished.connect(self._give_keys_back)
            self._keep_overlay_choices(self.compare.overlays)
            self.controller.comparisons_chosen.connect(self._comparisons_chosen)
        self._show_overlay_choices(self.compare.overlays)
        self.compare.show()
        self.compare.raise_()
        self.compare.activateWindow()
        self._update_compare_status()
        if self.compare.current is None:
            self._ask_for_pairs()

    def _ask_for_pairs(self) -> None:
        waiting = self.compare.waiting_pairs() if self.compare is not None else []
        self.controller.choose_comparisons(PAIRS_PER_BATCH, self.current_profile_id(), waiting)

    def _compare_pairs(self, pairs: list[tuple[int, int]]) -> list[ComparePair]:
        """The pairs as the dialog shows them (one read of the album's photos for the whole batch)."""
        photos = {p.id: p for p in self.library.photos()} if self.library is not None else {}
        return [pair for a, b in pairs if (pair := self._compare_pair(a, b, photos)) is not None]

    def _compare_pair(self, photo_a: int, photo_b: int, photos: dict) -> ComparePair | None:
        if photo_a not in photos or photo_b not in photos:
            return None
        a, b = photos[photo_a], photos[photo_b]
        return ComparePair(
            a.id, self.library.absolute_path(a), display_path(a.relpath),
            b.id, self.library.absolute_path(b), display_path(b.relpath),
        )  # fmt: skip

    def _comparisons_chosen(self, pairs: list[tuple[int, int]]) -> None:
        if self.compare is not None:
            self.compare.add_pairs(self._compare_pairs(pairs))

    def _compare_answered(self, photo_a: int, photo_b: int, outcome: str) -> None:
        self.controller.record_comparison(photo_a, photo_b, outcome)
        self._update_compare_status()
        self._update_actions()

    def _compare_undo(self) -> None:
        undone = self.controller.undo_comparison()
        pairs = self._compare_pairs([(undone.photo_a, undone.photo_b)]) if undone is not None else []
        if pairs and self.compare is not None:
            self.compare.push_front(pairs[0])
            self.statusBar().showMessage("Last answer taken back", 5_000)
        self._update_compare_status()
        self._update_actions()

    def _update_compare_status(self) -> None:
        if self.compare is not None and self.library is not None:
            readiness = curation.rating_readiness(self.library)
            self.compare.set_status(
                f"{self.compare.answers} answered now, {readiness.comparisons} decided in all — {readiness.explain()}"
            )
