"""The blend dialog: two of the album's profiles, how much of each, and the new profile's name."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSlider, QWidget


@dataclass(frozen=True)
class BlendChoice:
    a_id: int
    b_id: int
    weight: float  # of A; B gets 1 - weight
    name: str


class BlendDialog(QDialog):
    def __init__(self, profiles: list[tuple[int, str]], taken: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Blend profiles")
        self.taken = taken
        form = QFormLayout(self)
        self.a_box, self.b_box = QComboBox(), QComboBox()
        for box in (self.a_box, self.b_box):
            for profile_id, name in profiles:
                box.addItem(name, profile_id)
        self.b_box.setCurrentIndex(min(1, len(profiles) - 1))
        self.weight = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50, pageStep=10)
        self.weight.valueChanged.connect(self._update)
        self.weight_label = QLabel()
        self.name = QLineEdit()
        self.name.textEdited.connect(lambda _: setattr(self, "_named_by_user", True))
        self.name.textChanged.connect(self._check)
        self._named_by_user = False
        self.problem = QLabel(styleSheet="color: #e06c6c")
        form.addRow("Profile A", self.a_box)
        form.addRow("Profile B", self.b_box)
        form.addRow("Share of A", self.weight)
        form.addRow("", self.weight_label)
        form.addRow("New profile", self.name)
        form.addRow("", self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Blend and rank")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for box in (self.a_box, self.b_box):
            box.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        share = self.weight.value()
        a, b = self.a_box.currentText(), self.b_box.currentText()
        self.weight_label.setText(f"{share} % “{a}” + {100 - share} % “{b}”")
        if not self._named_by_user:
            self.name.setText(f"{a} {share}/{100 - share} {b}")
        self._check()

    def _check(self) -> None:
        name = self.name.text().strip()
        problem = ""
        if self.a_box.currentData() == self.b_box.currentData():
            problem = "choose two different profiles"
        elif not name:
            problem = "give the new profile a name"
        elif name in self.taken:
            problem = f"a profile named “{name}” exists already"
        self.problem.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)

    def choice(self) -> BlendChoice:
        a, b = int(self.a_box.currentData()), int(self.b_box.currentData())
        return BlendChoice(a, b, self.weight.value() / 100, self.name.text().strip())
