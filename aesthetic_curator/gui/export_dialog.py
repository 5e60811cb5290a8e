"""The export dialog: which photos (count / percent / score, by profile or by the user's stars),
where to, copy, hard link or resized JPEGs for sharing, and whether to write XMP ratings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from aesthetic_curator.library.export import DEFAULT_LONG_EDGE

#: The "Which photos" choice of exactly what the grid shows.
SHOWN_CHOICE = 3


@dataclass
class ExportChoice:
    use_profile: bool  # rank by the current profile; False: by the user's stars
    top: int | None
    top_percent: float | None
    min_score: float | None
    dest: Path
    mode: str  # copy | hardlink | jpeg (export.EXPORT_MODES)
    write_xmp: bool
    best_of_bursts: bool = False  # only the best photo of each burst is a candidate
    only_picks: bool = False  # only photos picked with P are candidates (rejected ones never are)
    long_edge: int = DEFAULT_LONG_EDGE  # pixels, for resized JPEGs
    shown: bool = False  # exactly what the grid shows, in its order (top / percent / score unused)
    with_raw: bool = True  # a RAW+JPEG pair's RAW goes with its JPEG (copies and hard links)
    numbered: bool = False  # names in the export's order: 001_IMG_1234.JPG

    def remembered(self) -> dict[str, object]:
        """What the next export starts from (kept between runs): everything but the destination, which is
        kept per album."""
        return {key: value for key, value in asdict(self).items() if key != "dest"}


class ExportDialog(QDialog):
    def __init__(
        self, profile_name: str | None, default_dest: Path, parent: QWidget | None = None, shown: int | None = None
    ) -> None:
        """``shown``: how many photos the grid shows, offered as a choice of its own (a filtered grid, say the
        red labels or the picks, is often exactly what is to go out)."""
        super().__init__(parent)
        self.setWindowTitle("Export top photos")
        form = QFormLayout(self)
        self.source = QComboBox()
        if profile_name:
            self.source.addItem(f"Personal ranking “{profile_name}”", True)
        self.source.addItem("My own stars", False)
        form.addRow("Order by", self.source)
        self.how = QComboBox()
        self.how.addItems(["Top count", "Top percent", "Score at least"])
        if shown is not None:
            self.how.addItem(f"What the grid shows ({shown} photos, in its order)")
        self.amount = QDoubleSpinBox()
        self.amount.setDecimals(2)
        self.how.currentIndexChanged.connect(self._adapt_amount)
        self._adapt_amount(0)
        row = QHBoxLayout()
        row.addWidget(self.how)
        row.addWidget(self.amount)
        form.addRow("Which photos", row)
        self.dest = QLineEdit(str(default_dest))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        dest_row = QHBoxLayout()
        dest_row.addWidget(self.dest)
        dest_row.addWidget(browse)
        form.addRow("Destination", dest_row)
        self.mode = QComboBox()
        self.mode.addItem("Copy files", "copy")
        self.mode.addItem("Hard links (no extra space, same disk only)", "hardlink")
        self.mode.addItem("Resized JPEGs for sharing (sRGB, no sidecars)", "jpeg")
        self.long_edge = QSpinBox(minimum=256, maximum=20_000, value=DEFAULT_LONG_EDGE, suffix=" px long edge")
        self.long_edge.setSingleStep(256)
        self.mode.currentIndexChanged.connect(self._adapt_mode)
        self.long_edge.setVisible(False)  # only for resized copies
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.mode)
        mode_row.addWidget(self.long_edge)
        form.addRow("How", mode_row)
        self.write_xmp = QCheckBox("Write stars, score and rank to XMP sidecars of the exported copies")
        form.addRow("", self.write_xmp)
        self.best_of_bursts = QCheckBox("Only the best of each burst (near-identical photos taken seconds apart)")
        form.addRow("", self.best_of_bursts)
        self.only_picks = QCheckBox("Only my picks (P); photos I rejected (X) are never exported")
        form.addRow("", self.only_picks)
        self.with_raw = QCheckBox("With the RAW file of each RAW+JPEG pair (beside its JPEG)", checked=True)
        form.addRow("", self.with_raw)
        self.numbered = QCheckBox("Number the files in this order (001_IMG_1234.JPG, 002_…) for slideshows")
        form.addRow("", self.numbered)
        self._boxes = {
            "write_xmp": self.write_xmp,
            "best_of_bursts": self.best_of_bursts,
            "only_picks": self.only_picks,
            "with_raw": self.with_raw,
            "numbered": self.numbered,
        }
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def restore(self, remembered: dict[str, object]) -> None:
        """Start from the last export's choices (``ExportChoice.remembered``); values of the wrong kind, or a
        choice this dialog does not offer now (the grid's photos, no profile), are left at their defaults."""
        known = {f.name for f in fields(ExportChoice)}
        choice = {key: value for key, value in remembered.items() if key in known}
        for key, box in self._boxes.items():
            if isinstance(choice.get(key), bool):
                box.setChecked(choice[key])
        mode = self.mode.findData(choice.get("mode"))
        if mode >= 0:
            self.mode.setCurrentIndex(mode)
        if isinstance(choice.get("long_edge"), int):
            self.long_edge.setValue(choice["long_edge"])
        if choice.get("use_profile") is False:
            self.source.setCurrentIndex(self.source.findData(False))
        amounts = [(0, "top"), (1, "top_percent"), (2, "min_score")]
        how, amount = next(((i, choice[k]) for i, k in amounts if isinstance(choice.get(k), (int, float))), (0, None))
        if choice.get("shown") is True and self.how.count() > SHOWN_CHOICE:
            how, amount = SHOWN_CHOICE, None
        self.how.setCurrentIndex(how)
        if amount is not None:
            self.amount.setValue(float(amount))

    def _adapt_mode(self) -> None:
        resized = self.mode.currentData() == "jpeg"
        self.long_edge.setVisible(resized)
        self.with_raw.setEnabled(not resized)  # a resized copy is one JPEG

    def _adapt_amount(self, index: int) -> None:
        self.amount.setEnabled(index != SHOWN_CHOICE)
        self.source.setEnabled(index != SHOWN_CHOICE)  # the grid's order
        if index == SHOWN_CHOICE:
            return
        if index == 0:
            self.amount.setRange(1, 1_000_000)
            self.amount.setDecimals(0)
            self.amount.setValue(20)
        elif index == 1:
            self.amount.setRange(0.1, 100)
            self.amount.setDecimals(1)
            self.amount.setValue(10)
        else:
            self.amount.setRange(-1000, 1000)
            self.amount.setDecimals(2)
            self.amount.setValue(5.0)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.dest.text())
        if folder:
            self.dest.setText(folder)

    def choice(self) -> ExportChoice:
        how, value = self.how.currentIndex(), self.amount.value()
        return ExportChoice(
            use_profile=bool(self.source.currentData()),
            top=int(value) if how == 0 else None,
            top_percent=value if how == 1 else None,
            min_score=value if how == 2 else None,
            dest=Path(self.dest.text()).expanduser(),
            mode=self.mode.currentData(),
            write_xmp=self.write_xmp.isChecked(),
            best_of_bursts=self.best_of_bursts.isChecked(),
            only_picks=self.only_picks.isChecked(),
            long_edge=self.long_edge.value(),
            shown=how == SHOWN_CHOICE,
            with_raw=self.with_raw.isChecked(),
            numbered=self.numbered.isChecked(),
        )
