"""The main window's actions, toolbar, menus and status bar: built here, wired to the window's slots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QProgressBar, QPushButton, QToolBar

from aesthetic_curator.gui import photo_files
from aesthetic_curator.gui.help_dialogs import help_actions
from aesthetic_curator.gui.photo_delegate import LABEL_COLOURS
from aesthetic_curator.gui.photo_model import NO_LABEL, Filter, SortOrder

if TYPE_CHECKING:
    from aesthetic_curator.gui.main_window import MainWindow


def _action(window: MainWindow, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, window)
    action.triggered.connect(slot)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    return action


def _preference_switch(window: MainWindow, text: str, preference: str, tip: str) -> QAction:
    """A checkable menu entry that is one of the preferences' switches (kept between runs)."""
    action = _action(window, text, lambda on: setattr(window.preferences, preference, on), None, tip)
    action.setCheckable(True)
    action.setChecked(getattr(window.preferences, preference))
    return action


def build_actions(w: MainWindow) -> None:
    w.open_action = _action(
        w, "Open…", w.open_clicked, QKeySequence.StandardKey.Open, "open a folder of photos (or drop one here)"
    )
    w.refresh_action = _action(
        w, "Refresh Folder", w.refresh_clicked, "F5", "look for new, changed and missing photos (also done by itself)"
    )
    w.follow_new_action = _preference_switch(
        w,
        "Show New Photos as They Arrive",
        "show_new_photos",
        "select each photo copied into the album as it arrives, in the loupe too (shooting tethered)",
    )
    w.suggest_action = _action(w, "Suggest", w.suggest_clicked, "Ctrl+G", "suggest a varied set of unrated photos")
    w.compare_action = _action(
        w, "Compare", w.compare_clicked, "Ctrl+B", "which of two photos do you prefer? (answers teach the most)"
    )
    w.import_xmp_action = _action(w, "Import Ratings from XMP", w.import_xmp_clicked)
    w.write_xmp_action = _action(
        w,
        "Write Ratings to XMP Sidecars…",
        w.write_xmp_clicked,
        None,
        "your stars, flags and labels, for other photo apps",
    )
    w.personalize_action = _action(
        w, "Personalize", w.personalize_clicked, "Ctrl+L", "learn your taste from your star ratings and comparisons"
    )
    w.rank_action = _action(w, "Rank", w.rank_clicked, "Ctrl+R", "score every photo with the profile")
    w.export_action = _action(w, "Export…", w.export_clicked, "Ctrl+E", "copy the top photos")
    w.settings_action = _action(w, "Model…", w.settings_clicked, "Ctrl+,", "model setup: bundle, device and solver")
    w.rename_profile_action = _action(w, "Rename Profile…", w.rename_profile_clicked)
    w.taste_action = _action(w, "Taste Panel…", w.taste_clicked, "Ctrl+T", "what the profile weighs, task by task")
    w.delete_profile_action = _action(w, "Delete Profile…", w.delete_profile_clicked)
    w.blend_action = _action(w, "Blend Profiles…", w.blend_clicked, None, "a new profile between two others")
    w.explain_action = _action(
        w, "Why These Scores?", w.explain_clicked, "Ctrl+I", "what lifts the selected photos, what holds them back"
    )
    w.export_profile_action = _action(
        w, "Export Profile…", w.export_profile_clicked, None, "save the profile's small file (the CLI reads it)"
    )
    w.import_profile_action = _action(
        w, "Import Profile…", w.import_profile_clicked, None, "add a profile file made with the same model"
    )
    w.profile_elsewhere_action = _action(
        w,
        "Use a Profile from Another Album…",
        w.use_profile_elsewhere_clicked,
        None,
        "rank this album by the taste you taught in another album",
    )
    w.learn_everywhere_action = _preference_switch(
        w,
        "Learn From All My Albums",
        "learn_everywhere",
        "Personalize learns from your stars and comparisons in your other albums too (the latest, up to 150 photos)",
    )
    w.stack_action = _action(
        w, "Stack Bursts", w.stack_bursts_toggled, "Ctrl+K", "show each burst as one tile, its best photo on top"
    )
    w.stack_action.setCheckable(True)
    w.expand_stack_action = _action(w, "Expand or Collapse Burst", w.toggle_stack_clicked, "S", "show a burst's photos")
    w.reject_rest_action = _action(
        w, "Reject the Rest of Each Burst", w.reject_rest_clicked, None, "keep each burst's best (Ctrl+Z: undo)"
    )
    w.loupe_action = _action(w, "Loupe", w.open_loupe, None, "Space or double-click")
    w.survey_action = _action(w, "Survey Selected Photos", w.open_survey, "N", "the selected photos side by side")
    w.candidates_action = _action(
        w, "Compare Select and Candidate", w.open_candidates, "C", "the best frame so far against the next, large"
    )
    w.larger_tiles_action = _action(w, "Larger Thumbnails", w.grid.larger_tiles, "Ctrl+=", "bigger grid tiles")
    w.larger_tiles_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence(QKeySequence.StandardKey.ZoomIn)])
    w.smaller_tiles_action = _action(
        w, "Smaller Thumbnails", w.grid.smaller_tiles, QKeySequence.StandardKey.ZoomOut, "more photos on screen"
    )
    w.quit_action = _action(w, "Quit", w.close, QKeySequence.StandardKey.Quit)
    w.open_file_action = _action(
        w, "Open in Default App", lambda: _with_paths(w, photo_files.open_in_default_app), "Ctrl+Return"
    )
    w.show_in_folder_action = _action(w, "Show in Folder", lambda: _with_paths(w, photo_files.show_in_folder))
    w.copy_path_action = _action(w, "Copy Path", lambda: _with_paths(w, photo_files.copy_paths))
    w.advance_action = _preference_switch(
        w,
        "Advance After Rating",
        "advance_after_rating",
        "a rating key moves on to the next photo (culling a series at one key per photo)",
    )
    w.undo_rating_action = _action(w, "Undo Rating", w.undo_rating, QKeySequence.StandardKey.Undo, "take back a key")
    w.redo_rating_action = _action(w, "Redo Rating", w.redo_rating, QKeySequence.StandardKey.Redo)


def _with_paths(w: MainWindow, hand_over) -> None:
    """Run one of photo_files' hand-overs on the selected photos' files."""
    paths = [item.path for item in w.selected_items()]
    if paths:
        hand_over(paths)


def build_context_menu(w: MainWindow) -> None:
    """Right-click on a photo: the loupe, and its file for other apps."""
    w.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for action in (w.loupe_action, None, w.open_file_action, w.show_in_folder_action, w.copy_path_action):
        w.grid.addAction(action if action is not None else _separator(w))


def _separator(w: MainWindow) -> QAction:
    separator = QAction(w)
    separator.setSeparator(True)
    return separator


def build_toolbar(w: MainWindow) -> None:
    bar = QToolBar("Main", objectName="main-toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    w.addToolBar(bar)
    main = (w.open_action, w.suggest_action, w.compare_action, w.personalize_action, w.rank_action, w.export_action)
    for action in main:
        bar.addAction(action)
    bar.addSeparator()
    bar.addWidget(QLabel(" Profile "))
    w.profile_box = QComboBox(minimumContentsLength=12)
    w.profile_box.currentIndexChanged.connect(w.profile_changed)
    bar.addWidget(w.profile_box)
    bar.addWidget(QLabel(" Sort "))
    w.sort_box = QComboBox()
    for order in SortOrder:
        w.sort_box.addItem(order.value, order)
    w.sort_box.setCurrentIndex(w.sort_box.findData(SortOrder.ALBUM))
    w.sort_box.currentIndexChanged.connect(w.view_changed)
    bar.addWidget(w.sort_box)
    bar.addWidget(QLabel(" Show "))
    w.filter_box = QComboBox()
    for item in Filter:
        w.filter_box.addItem(item.value, item)
    w.filter_box.currentIndexChanged.connect(w.view_changed)
    bar.addWidget(w.filter_box)
    w.filter_value = QDoubleSpinBox(minimum=0, maximum=1_000_000, decimals=1, value=50)
    w.filter_value.valueChanged.connect(w.view_changed)
    w.filter_value_action = bar.addWidget(w.filter_value)
    w.filter_value_action.setVisible(False)
    w.label_box = QComboBox()  # with any Show choice: one colour label, as Lightroom's filter bar combines them
    w.label_box.setToolTip("only the photos with this colour label (keys 6-9), together with what Show shows")
    w.label_box.addItem("Any label", None)
    for label, colour in LABEL_COLOURS.items():  # a swatch of the colour, as the tiles show it
        swatch = QPixmap(12, 12)
        swatch.fill(QColor(colour))
        w.label_box.addItem(QIcon(swatch), label.capitalize(), label)
    w.label_box.addItem("No label", NO_LABEL)
    w.label_box.currentIndexChanged.connect(w.view_changed)
    bar.addWidget(w.label_box)
    bar.addSeparator()
    bar.addAction(w.settings_action)


def build_menus(w: MainWindow) -> None:
    file_menu = w.menuBar().addMenu("&File")
    file_menu.addAction(w.open_action)
    w.recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addAction(w.refresh_action)
    file_menu.addAction(w.follow_new_action)
    for action in (w.import_xmp_action, w.write_xmp_action, w.export_action):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(w.quit_action)
    edit_menu = w.menuBar().addMenu("&Edit")
    edit_menu.addAction(w.undo_rating_action)
    edit_menu.addAction(w.redo_rating_action)
    edit_menu.addSeparator()
    edit_menu.addAction(w.advance_action)
    photo_menu = w.menuBar().addMenu("&Photos")
    for action in (w.suggest_action, w.compare_action, w.loupe_action, w.survey_action, w.candidates_action):
        photo_menu.addAction(action)
    for action in (w.personalize_action, w.rank_action):
        photo_menu.addAction(action)
    photo_menu.addSeparator()
    for action in (w.open_file_action, w.show_in_folder_action, w.copy_path_action):
        photo_menu.addAction(action)
    photo_menu.addSeparator()
    photo_menu.addAction(w.stack_action)
    photo_menu.addAction(w.expand_stack_action)
    photo_menu.addAction(w.reject_rest_action)
    photo_menu.addSeparator()
    photo_menu.addAction(w.larger_tiles_action)
    photo_menu.addAction(w.smaller_tiles_action)
    profile_menu = w.menuBar().addMenu("P&rofile")
    shaping = (w.taste_action, w.explain_action, w.blend_action)
    other_albums = (w.profile_elsewhere_action, w.learn_everywhere_action)
    files = (w.import_profile_action, w.export_profile_action)
    for action in (*shaping, None, *other_albums, None, *files, None, w.rename_profile_action, w.delete_profile_action):
        profile_menu.addAction(action) if action is not None else profile_menu.addSeparator()
    w.menuBar().addMenu("&Settings").addAction(w.settings_action)
    build_context_menu(w)
    help_menu = w.menuBar().addMenu("&Help")
    for action in help_actions(w):
        help_menu.addAction(action)


def build_status_bar(w: MainWindow) -> None:
    status = w.statusBar()
    w.counter_label = QLabel()
    w.selection_label = QLabel()
    w.task_label = QLabel()
    w.progress_bar = QProgressBar(maximumWidth=260, visible=False)
    w.cancel_button = QPushButton("Cancel", visible=False)
    w.cancel_button.clicked.connect(w.cancel_task)
    status.addWidget(w.counter_label)
    status.addWidget(w.selection_label, 1)
    status.addPermanentWidget(w.task_label)
    status.addPermanentWidget(w.progress_bar)
    status.addPermanentWidget(w.cancel_button)
