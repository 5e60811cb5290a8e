"""The taste panel: what the current profile weighs, task by task and layer group by layer group.

A heat map (rows: tasks, columns: the network's layer groups and the overall weight) with the exact number
in each cell and on hover, above the one-line summary computed from the same numbers (engine.taste).
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget


class TastePanel(QDialog):
    def __init__(self, profile_name: str, summary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Taste of “{profile_name}”")
        self.setObjectName("taste-panel")
        self.resize(760, 460)
        self.summary_label = QLabel(f"<b>{summary.line}</b>", wordWrap=True)
        columns = [*summary.groups, "overall"]
        self.table = QTableWidget(len(summary.tasks), len(columns), self)
        self.table.setHorizontalHeaderLabels(columns)
        self.table.setVerticalHeaderLabels(summary.tasks)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        values = [[*row, total] for row, total in zip(summary.weights.tolist(), summary.overall.tolist())]
        largest = max((abs(v) for row in values for v in row), default=1.0) or 1.0
        for r, (task, row) in enumerate(zip(summary.tasks, values)):
            for c, (column, value) in enumerate(zip(columns, row)):
                item = QTableWidgetItem(f"{value:+.2f}")
                item.setToolTip(f"{task}, {column}: {value:+.4f}")
                strength = int(200 * min(1.0, abs(value) / largest))
                colour = QColor(255 - strength, 255 - strength // 3, 255 - strength) if value >= 0 else QColor(
                    255, 255 - strength, 255 - strength
                )  # green for a task that counts, red for one held against
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor(0, 0, 0)))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        note = QLabel(
            "Each cell: the task's coefficient averaged over that group of layers, each layer counted by its number "
            "of parameters (1 = the task's fine-tuned change applied in full, 0 = not at all, below 0 = reversed).",
            wordWrap=True,
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.summary_label, self.table, note, buttons):
            layout.addWidget(widget)
