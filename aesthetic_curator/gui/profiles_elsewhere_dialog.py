"""Profile → Use a Profile from Another Album…: the profiles taught in the user's other albums, to rank this one.

Each row is one profile: its name, its album, when it was made and what it learned there. A profile made with
another model bundle than the one in use cannot rank this album (its coefficients weigh that bundle's tasks),
so its row is shown greyed with the reason rather than hidden: the user sees why "my wedding taste" is not
offered and what to do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from aesthetic_curator.gui.screen_fit import resize_within_screen
from aesthetic_curator.library.other_albums import ProfileElsewhere
from aesthetic_curator.profile_editing import describe_elsewhere

OTHER_MODEL = "made with another model than the one in use: choose that model in Model… to use it"
COLUMNS = ("Profile", "Album", "Made", "What it learned")


class ProfilesElsewhereDialog(QDialog):
    def __init__(self, found: list[ProfileElsewhere], bundle_id: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Use a profile from another album")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Rank this album by the taste you taught in another album: the profile is copied into this album "
            "and the album is ranked with it. Nothing in the other album changes; rating here and pressing "
            "Personalize later learns this album's own profile."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tree = QTreeWidget(rootIsDecorated=False, alternatingRowColors=True)
        self.tree.setHeaderLabels(COLUMNS)
        self._profiles = list(found)  # a row's UserRole data is its index here
        for index, found_profile in enumerate(found):
            self.tree.addTopLevelItem(self._item(index, found_profile, bundle_id))
        for column in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(column)
        layout.addWidget(self.tree)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.use_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.use_button.setText("Use and rank")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.tree.currentItemChanged.connect(self._update)
        self.tree.itemDoubleClicked.connect(lambda item, _: self.accept() if self.choice() is not None else None)
        usable = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        first = next((item for item in usable if not item.isDisabled()), None)
        if first is not None:
            self.tree.setCurrentItem(first)
        self._update()
        resize_within_screen(self, 820, 420)

    def _item(self, index: int, found: ProfileElsewhere, bundle_id: str | None) -> QTreeWidgetItem:
        album = found.album_name + ("" if found.album.is_dir() else " (folder not found)")
        item = QTreeWidgetItem([found.name, album, found.made(), describe_elsewhere(found)])
        item.setData(0, Qt.ItemDataRole.UserRole, index)
        item.setToolTip(1, str(found.album))
        if bundle_id is not None and found.bundle_id != bundle_id:
            item.setDisabled(True)
            for column in range(len(COLUMNS)):
                item.setToolTip(column, OTHER_MODEL)
        return item

    def _update(self) -> None:
        self.use_button.setEnabled(self.choice() is not None)

    def choice(self) -> ProfileElsewhere | None:
        """The profile chosen (None when the current row cannot be used)."""
        item = self.tree.currentItem()
        if item is None or item.isDisabled():
            return None
        return self._profiles[int(item.data(0, Qt.ItemDataRole.UserRole))]
