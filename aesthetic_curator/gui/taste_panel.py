"""The taste panel: what the current profile weighs, task by task and layer group by layer group, and
sliders to shape it.

Each task has a bar of its overall weight (the exact number on hover) and a slider that scales its
coefficients (0-300 %); moving a slider previews the bars, the table and the summary line at once, since
every weight is linear in its task's coefficients (``TasteSummary.scaled``). "Apply" asks the window to
store the shaped profile as a new version and re-rank; "Undo last change" returns to the previous version.
Below, a heat map of the weights per layer group (rows: tasks, columns: groups and the overall weight).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from aesthetic_curator.gui.screen_fit import resize_within_screen

#: Slider range, in percent of the learned coefficients (engine.profile_shaping.MAX_SCALE is 3).
MAX_PERCENT = 300
POSITIVE, NEGATIVE = QColor("#5fb878"), QColor("#e06c6c")


class WeightBar(QWidget):
    """One task's overall weight as a signed bar around a zero line; the exact number on hover."""

    def __init__(self, limit: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = limit  # the weight that fills half the bar
        self.value = 0.0
        self.setMinimumSize(QSize(160, 16))

    def set_value(self, value: float, task: str) -> None:
        self.value = value
        self.setToolTip(f"{task}, overall: {value:+.4f}")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        middle, half = self.width() / 2, self.width() / 2 - 2
        length = half * max(-1.0, min(1.0, self.value / self.limit)) if self.limit else 0.0
        painter.fillRect(
            QRectF(min(middle, middle + length), 3, abs(length), self.height() - 6),
            POSITIVE if self.value >= 0 else NEGATIVE,
        )
        painter.setPen(QColor("#888888"))
        painter.drawLine(int(middle), 0, int(middle), self.height())
        painter.end()


class TastePanel(QDialog):
    apply_requested = Signal(dict)  # task name -> scale, for the tasks moved away from 100 %
    undo_requested = Signal()

    def __init__(self, profile_name: str, summary, parent: QWidget | None = None, versions: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Taste of “{profile_name}”")
        self.setObjectName("taste-panel")
        resize_within_screen(self, 820, 780)
        self.summary = summary
        self.profile_id: int | None = None  # set by the window: the stored profile shown
        self.busy = False  # an Apply is running
        self.summary_label = QLabel(wordWrap=True)
        limit = max((abs(v) for v in summary.overall.tolist()), default=1.0) or 1.0  # the largest fills its half
        shape = QGroupBox("Weigh each task (100 % = as learned; Apply re-ranks and keeps the old version for undo)")
        grid = QGridLayout(shape)
        self.bars: dict[str, WeightBar] = {}
        self.sliders: dict[str, QSlider] = {}
        self.percent_labels: dict[str, QLabel] = {}
        for row, task in enumerate(summary.tasks):
            slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=MAX_PERCENT, value=100, pageStep=10)
            slider.setObjectName(f"scale-{task}")
            slider.valueChanged.connect(self._preview)
            self.bars[task], self.sliders[task] = WeightBar(limit), slider
            self.percent_labels[task] = QLabel("100 %", minimumWidth=48)
            for column, widget in enumerate((QLabel(task), self.bars[task], slider, self.percent_labels[task])):
                grid.addWidget(widget, row, column)
        self.apply_button = QPushButton("Apply and re-rank")
        self.apply_button.clicked.connect(lambda: self.apply_requested.emit(self.scales()))
        self.reset_button = QPushButton("Reset sliders")
        self.reset_button.clicked.connect(self.reset_sliders)
        self.undo_button = QPushButton("Undo last change")
        self.undo_button.clicked.connect(self.undo_requested.emit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        for button in (self.apply_button, self.reset_button, self.undo_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.table = QTableWidget(len(summary.tasks), len(summary.groups) + 1, self)
        self.table.setHorizontalHeaderLabels([*summary.groups, "overall"])
        self.table.setVerticalHeaderLabels(summary.tasks)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setStyleSheet("QHeaderView::section { color: #e6e6e6; background: #2b2d33; padding: 2px 6px; }")
        note = QLabel(
            "Each cell: the task's coefficient averaged over that group of layers, each layer counted by its number "
            "of parameters (1 = the task's fine-tuned change applied in full, 0 = not at all, below 0 = reversed).",
            wordWrap=True,
        )
        layout = QVBoxLayout(self)
        for widget in (self.summary_label, shape, self.table, note, buttons):
            layout.addWidget(widget)
        self.show_summary(summary, versions)

    # -- what is shown ----------------------------------------------------------------------------------
    def show_summary(self, summary, versions: int) -> None:
        """Show a (new) stored version of the profile: sliders back to 100 %, undo if there is a version."""
        self.summary = summary
        self.undo_button.setEnabled(versions > 0)
        self.undo_button.setToolTip(f"{versions} earlier version(s) kept" if versions else "no earlier version")
        self.reset_sliders()
        self._draw(summary)

    def reset_sliders(self) -> None:
        for slider in self.sliders.values():
            slider.blockSignals(True)
            slider.setValue(100)
            slider.blockSignals(False)
        self._preview()

    def scales(self) -> dict[str, float]:
        return {task: s.value() / 100 for task, s in self.sliders.items() if s.value() != 100}

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.apply_button, self.reset_button, *self.sliders.values()):
            widget.setEnabled(not busy)
        if busy:
            self.undo_button.setEnabled(False)

    def _preview(self) -> None:
        for task, slider in self.sliders.items():
            self.percent_labels[task].setText(f"{slider.value()} %")
        scales = self.scales()
        self.apply_button.setEnabled(bool(scales))
        self._draw(self.summary.scaled(scales) if scales else self.summary)

    def _draw(self, summary) -> None:
        changed = " (preview: press Apply to re-rank with it)" if summary is not self.summary else ""
        self.summary_label.setText(f"<b>{summary.line}</b>{changed}")
        for task, value in zip(summary.tasks, summary.overall.tolist()):
            self.bars[task].set_value(value, task)
        columns = [*summary.groups, "overall"]
        values = [[*row, total] for row, total in zip(summary.weights.tolist(), summary.overall.tolist())]
        largest = max((abs(v) for row in values for v in row), default=1.0) or 1.0
        for r, (task, row) in enumerate(zip(summary.tasks, values)):
            for c, (column, value) in enumerate(zip(columns, row)):
                item = QTableWidgetItem(f"{value:+.3f}")
                item.setToolTip(f"{task}, {column}: {value:+.4f}")
                strength = int(200 * min(1.0, abs(value) / largest))
                colour = (
                    QColor(255 - strength, 255 - strength // 3, 255 - strength)
                    if value >= 0
                    else QColor(255, 255 - strength, 255 - strength)
                )  # green for a task that counts, red for one held against
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor(0, 0, 0)))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
