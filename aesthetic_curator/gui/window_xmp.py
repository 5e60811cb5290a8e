"""Ratings in and out through XMP, the way other photo apps share them: File → Import Ratings from XMP and
File → Write Ratings to XMP Sidecars.

A mixin of :class:`MainWindow`. Writing is what a photographer culling here before editing in Lightroom,
darktable, digiKam or Capture One needs: the stars and flags go into sidecars beside the photos (existing
ones keep every other field; the photos never change), so the editor shows them on import. The message
before writing says what is written where, and asks how a new sidecar is named, since the two conventions
are read by different editors.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from aesthetic_curator.paths import display_path

#: The buttons of the question before writing: (naming, label), the naming of ``xmp.SIDECAR_NAMINGS``.
SIDECAR_CHOICES = [
    ("photo", "New ones as IMG_1234.JPG.xmp"),
    ("stem", "New ones as IMG_1234.xmp"),
]
#: Problems listed in a message (the rest are counted).
LISTED_PROBLEMS = 10


def _problem_lines(problems: list[tuple[str, str]], heading: str) -> str:
    listed = "\n".join(f"{display_path(path)}: {problem}" for path, problem in problems[:LISTED_PROBLEMS])
    more = f"\n… and {len(problems) - LISTED_PROBLEMS} more" if len(problems) > LISTED_PROBLEMS else ""
    return f"\n\n{len(problems)} {heading}:\n{listed}{more}" if problems else ""


class WindowXmp:
    """Import and write-back of XMP ratings."""

    def import_xmp_clicked(self) -> None:
        self.controller.import_xmp()

    def _xmp_done(self, outcome) -> None:
        self._forget_rating_history()  # undo would put back stars from before the import
        self._reload_model()
        message = f"Imported ratings of {outcome.imported} photo(s) from XMP"
        message += f" and colour labels of {outcome.labelled}." if outcome.labelled else "."
        self.show_info("Import ratings", message + _problem_lines(outcome.problems, "could not be used"))

    def write_xmp_clicked(self) -> None:
        """Ask how new sidecars are named (the last choice is the default), then write in the background."""
        if self.library is None:
            return
        ratings = self.library.ratings()
        rated = {pid for pid, rating in ratings.items() if rating.stars is not None or rating.flag != 0}
        count = len(rated | set(self.library.labels()))
        if count == 0:
            message = "No photo has stars, a pick, a reject or a colour label yet: there is nothing to write."
            self.show_info("Write ratings to XMP", message)
            return
        question = (
            f"Write the stars, picks, rejects and colour labels of {count} photo(s) into sidecars beside the photos?"
        )
        cancel = QMessageBox.StandardButton.Cancel
        box = QMessageBox(QMessageBox.Icon.Question, "Write ratings to XMP", question, cancel, self)
        box.setInformativeText(
            "Lightroom Classic, darktable, digiKam and Capture One read them when they import or re-read the "
            "folder. A photo that has a sidecar gets its rating there, with everything else in it kept; the photos "
            "themselves are never changed, and a sidecar's rating or label is never cleared. Picks go into "
            "digiKam's pick label and Adobe's xmpDM:pick; Lightroom Classic keeps its flags in its catalogue "
            "and does not read them, so give the keepers meant for it stars too.\n\n"
            "New sidecars: IMG_1234.JPG.xmp is what darktable and digiKam read; IMG_1234.xmp is what Lightroom "
            "Classic and Capture One read beside a raw file (Lightroom reads a JPEG's rating only from inside the "
            "file, which this app never changes)."
        )
        buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): naming for naming, label in SIDECAR_CHOICES}
        last = [b for b, naming in buttons.items() if naming == self.preferences.sidecar_names]
        box.setDefaultButton((last or list(buttons))[0])

        def answered(button) -> None:
            naming = buttons.get(button)
            if naming is not None:
                self.preferences.sidecar_names = naming
                self.controller.write_xmp(naming)

        box.buttonClicked.connect(answered)
        self.xmp_box = box
        box.open()

    def _xmp_written(self, outcome) -> None:
        message = f"Wrote the ratings of {outcome.written} photo(s) into XMP sidecars."
        if outcome.unchanged:
            message += f" {outcome.unchanged} sidecar(s) already said so and were left as they were."
        self.show_info("Write ratings to XMP", message + _problem_lines(outcome.problems, "not written"))
