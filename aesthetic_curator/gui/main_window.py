"""The main window: open an album, rate, personalize, rank, sort, filter and export.

All long work goes through :class:`BackgroundTask` (one at a time, with a progress bar and a
Cancel button in the status bar); the window itself only reads and writes the library and
shows results. Messages from failed work appear in a non-blocking message box.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
    QWidget,
)

from aesthetic_curator import curation
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.gui.export_dialog import ExportChoice, ExportDialog
from aesthetic_curator.gui.loupe import LoupeDialog
from aesthetic_curator.gui.photo_delegate import PhotoDelegate
from aesthetic_curator.gui.photo_model import PHOTO_ROLE, Filter, PhotoItem, PhotoListModel, SortOrder
from aesthetic_curator.gui.preferences import Preferences
from aesthetic_curator.gui.settings_dialog import NO_BUNDLE_HELP, SettingsDialog
from aesthetic_curator.gui.tasks import BackgroundTask, Job
from aesthetic_curator.gui.thumbnail_loader import ThumbnailLoader
from aesthetic_curator.library.store import KEEP, PICKED, REJECTED, Library
from aesthetic_curator.library.thumbnails import ThumbnailCache
from aesthetic_curator.paths import display_path
from aesthetic_curator.progress import Progress

log = logging.getLogger(__name__)

#: Above this estimate on the CPU the user is asked before personalization starts.
CONFIRM_SECONDS = 30.0


class PhotoGridView(QListView):
    """The thumbnail grid; rating keys go to the window, the rest to the list (arrows, selection)."""

    rating_key = Signal(QKeyEvent)
    open_loupe = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSpacing(2)
        self.setWordWrap(False)
        self.doubleClicked.connect(lambda _: self.open_loupe.emit())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.open_loupe.emit()
        elif is_rating_key(event):
            self.rating_key.emit(event)
        else:
            super().keyPressEvent(event)


def is_rating_key(event: QKeyEvent) -> bool:
    return event.key() in RATING_KEYS


#: Lightroom's keys: 1-5 stars, 0 no stars, P pick, X reject, U unflag.
RATING_KEYS = {
    Qt.Key.Key_0: ("stars", None),
    Qt.Key.Key_1: ("stars", 1),
    Qt.Key.Key_2: ("stars", 2),
    Qt.Key.Key_3: ("stars", 3),
    Qt.Key.Key_4: ("stars", 4),
    Qt.Key.Key_5: ("stars", 5),
    Qt.Key.Key_P: ("flag", PICKED),
    Qt.Key.Key_X: ("flag", REJECTED),
    Qt.Key.Key_U: ("flag", 0),
}


class MainWindow(QMainWindow):
    album_loaded = Signal()
    personalized = Signal(int)  # profile id
    ranked = Signal(int)  # profile id
    exported = Signal(object)  # ExportReport
    task_failed = Signal(str)

    def __init__(self, preferences: Preferences | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Aesthetic Curator")
        self.setAcceptDrops(True)
        self.preferences = preferences or Preferences()
        self.library: Library | None = None
        self.task: BackgroundTask | None = None
        self.error_box: QMessageBox | None = None
        self.info_box: QMessageBox | None = None
        self.thumbnails = ThumbnailCache()
        self.loader = ThumbnailLoader(self.thumbnails, parent=self)
        self.model = PhotoListModel()
        self.model.set_loader(self.loader)
        self.grid = PhotoGridView()
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(PhotoDelegate(parent=self.grid))
        self.grid.rating_key.connect(self.handle_rating_key)
        self.grid.open_loupe.connect(self.open_loupe)
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._update_selection_status())
        self.setCentralWidget(self.grid)
        self.loupe: LoupeDialog | None = None
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        geometry, state = self.preferences.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        if state is not None:
            self.restoreState(state)
        self._update_actions()

    # -- building the window ------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action(
            "Open…", self.open_clicked, QKeySequence.StandardKey.Open, "open a folder of photos (or drop one here)"
        )
        self.suggest_action = self._action(
            "Suggest", self.suggest_clicked, "Ctrl+G", "suggest a varied set of unrated photos to rate"
        )
        self.import_xmp_action = self._action("Import Ratings from XMP", self.import_xmp_clicked)
        self.personalize_action = self._action(
            "Personalize", self.personalize_clicked, "Ctrl+L", "learn your taste from your ratings"
        )
        self.rank_action = self._action("Rank", self.rank_clicked, "Ctrl+R", "score every photo with the profile")
        self.export_action = self._action("Export…", self.export_clicked, "Ctrl+E", "copy the top photos")
        self.settings_action = self._action(
            "Model…", self.settings_clicked, "Ctrl+,", "model setup: bundle, device and solver"
        )
        self.rename_profile_action = self._action("Rename Profile…", self.rename_profile_clicked)
        self.delete_profile_action = self._action("Delete Profile…", self.delete_profile_clicked)
        self.loupe_action = self._action("Loupe", self.open_loupe, None, "Space or double-click")
        self.quit_action = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", objectName="main-toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        for action in (self.open_action, self.suggest_action, self.personalize_action, self.rank_action):
            bar.addAction(action)
        bar.addAction(self.export_action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Profile "))
        self.profile_box = QComboBox(minimumContentsLength=14)
        self.profile_box.currentIndexChanged.connect(self._profile_changed)
        bar.addWidget(self.profile_box)
        bar.addWidget(QLabel("  Sort "))
        self.sort_box = QComboBox()
        for order in SortOrder:
            self.sort_box.addItem(order.value, order)
        self.sort_box.setCurrentIndex(self.sort_box.findData(SortOrder.ALBUM))
        self.sort_box.currentIndexChanged.connect(self._view_changed)
        bar.addWidget(self.sort_box)
        bar.addWidget(QLabel("  Show "))
        self.filter_box = QComboBox()
        for item in Filter:
            self.filter_box.addItem(item.value, item)
        self.filter_box.currentIndexChanged.connect(self._view_changed)
        bar.addWidget(self.filter_box)
        self.filter_value = QDoubleSpinBox(minimum=0, maximum=1_000_000, decimals=1, value=50)
        self.filter_value.valueChanged.connect(self._view_changed)
        self.filter_value_action = bar.addWidget(self.filter_value)
        self.filter_value_action.setVisible(False)
        bar.addSeparator()
        bar.addAction(self.settings_action)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.import_xmp_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        photo_menu = self.menuBar().addMenu("&Photos")
        for action in (self.suggest_action, self.loupe_action, self.personalize_action, self.rank_action):
            photo_menu.addAction(action)
        profile_menu = self.menuBar().addMenu("P&rofile")
        profile_menu.addAction(self.rename_profile_action)
        profile_menu.addAction(self.delete_profile_action)
        settings_menu = self.menuBar().addMenu("&Settings")
        settings_menu.addAction(self.settings_action)
        self._fill_recent_menu()

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.counter_label = QLabel()
        self.selection_label = QLabel()
        self.task_label = QLabel()
        self.progress_bar = QProgressBar(maximumWidth=260, visible=False)
        self.cancel_button = QPushButton("Cancel", visible=False)
        self.cancel_button.clicked.connect(self.cancel_task)
        status.addWidget(self.counter_label)
        status.addWidget(self.selection_label, 1)
        status.addPermanentWidget(self.task_label)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.cancel_button)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.preferences.recent_folders:
            action = self.recent_menu.addAction(str(folder))
            action.triggered.connect(lambda _=False, f=folder: self.open_album(f))
        self.recent_menu.setEnabled(bool(self.preferences.recent_folders))

    # -- albums -----------------------------------------------------------------------------------------------
    def open_clicked(self) -> None:
        start = str(self.preferences.last_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", start)
        if folder:
            self.open_album(Path(folder))

    def open_album(self, folder: Path) -> None:
        """Show what the library already knows at once, then re-scan the folder in the background."""
        folder = folder.expanduser().resolve()
        if self.is_busy():
            self.cancel_task(wait=True)
        try:
            library = Library.open_for_album(folder)
        except CuratorError as exc:
            self.show_error("Cannot open folder", str(exc))
            return
        if self.library is not None:
            self.library.close()
        self.library = library
        self.loader.wait()
        self.loader = ThumbnailLoader(self.thumbnails, parent=self)
        self.model.set_loader(self.loader)
        self.preferences.remember_folder(folder)
        self._fill_recent_menu()
        self.setWindowTitle(f"{folder.name} — Aesthetic Curator")
        self._reload_profiles()
        self._reload_model()
        self.run_task("scan", lambda progress, cancel: self._scan_job(library, progress, cancel), self._scan_done)

    @staticmethod
    def _scan_job(library: Library, progress, cancel):
        from aesthetic_curator.library.album import index_album

        return index_album(library, progress=progress, cancel=cancel)

    def _scan_done(self, summary) -> None:
        self._reload_model()
        sync = summary.sync
        problems = len(summary.scan.problems)
        parts = [f"{len(self.model.all_items())} photos"]
        if sync.added:
            parts.append(f"{len(sync.added)} new")
        if sync.removed:
            parts.append(f"{len(sync.removed)} missing")
        if problems:
            parts.append(f"{problems} skipped (see log)")
            for problem in summary.scan.problems:
                log.warning("skipped %s: %s", problem.path, problem.reason)
        self.statusBar().showMessage(", ".join(parts), 10_000)
        self.album_loaded.emit()

    def _reload_model(self) -> None:
        if self.library is None:
            return
        current = self.current_item()
        profile_id = self.current_profile_id()
        self.model.load(self.library, self.library.scores(profile_id) if profile_id is not None else None)
        if current is not None:
            self.select_photo(current.id)
        elif self.model.rowCount() and not self.grid.currentIndex().isValid():
            self.grid.setCurrentIndex(self.model.index(0))
        self._update_actions()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = Path(event.mimeData().urls()[0].toLocalFile())
        if folder.is_dir():
            self.open_album(folder)

    # -- rating ---------------------------------------------------------------------------------------------
    def current_item(self) -> PhotoItem | None:
        index = self.grid.currentIndex()
        return index.data(PHOTO_ROLE) if index.isValid() else None

    def selected_items(self) -> list[PhotoItem]:
        items = [index.data(PHOTO_ROLE) for index in self.grid.selectionModel().selectedIndexes()]
        current = self.current_item()
        if not items and current is not None:
            items = [current]
        return [item for item in items if item is not None]

    def select_photo(self, photo_id: int) -> bool:
        row = self.model.row_of(photo_id)
        if row is None:
            return False
        index = self.model.index(row)
        self.grid.setCurrentIndex(index)
        self.grid.scrollTo(index)
        return True

    def handle_rating_key(self, event: QKeyEvent) -> None:
        part, value = RATING_KEYS[Qt.Key(event.key())]
        items = self.selected_items()
        if self.library is None or not items:
            return
        for item in items:
            # Pressing P on a pick (or X on a reject) clears it, as in Lightroom.
            value_here = 0 if part == "flag" and value != 0 and item.flag == value else value
            stars, flag = (value_here, KEEP) if part == "stars" else (KEEP, value_here)
            self.library.set_rating(item.id, stars=stars, flag=flag)
            self.model.set_rating(item.id, item.stars if stars is KEEP else stars, item.flag if flag is KEEP else flag)
        if self.loupe is not None and self.loupe.isVisible() and items:
            self.loupe.update_caption(items[0])
        self._update_actions()

    def _update_counter(self, readiness: curation.RatingReadiness | None) -> None:
        if readiness is None:
            self.counter_label.setText("Open a folder of photos to start (File → Open Folder, or drop a folder here)")
            return
        enough = curation.ENOUGH_RATINGS
        self.counter_label.setText(
            f"Rated {readiness.rated} (personalize from {curation.MIN_RATINGS}; up to {enough} helps) — "
            + readiness.explain()
        )

    def _update_selection_status(self) -> None:
        item = self.current_item()
        if item is None:
            self.selection_label.setText("")
            return
        score = f" · rank {item.rank} · score {item.score:.2f}" if item.rank is not None else ""
        self.selection_label.setText(f"  {display_path(item.photo.relpath)}{score}")
        if self.loupe is not None and self.loupe.isVisible():
            self.loupe.show_item(item)

    # -- loupe ----------------------------------------------------------------------------------------------
    def open_loupe(self) -> None:
        item = self.current_item()
        if item is None:
            return
        if self.loupe is None:
            self.loupe = LoupeDialog(self)
            self.loupe.navigate.connect(self._loupe_navigate)
            self.loupe.key_rating.connect(self._loupe_key)
        self.loupe.show()
        self.loupe.show_item(item)

    def _loupe_navigate(self, step: int) -> None:
        row = self.grid.currentIndex().row() + step
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row)
            self.grid.selectionModel().setCurrentIndex(index, self.grid.selectionModel().SelectionFlag.ClearAndSelect)

    def _loupe_key(self, event: QKeyEvent) -> None:
        if is_rating_key(event):
            self.handle_rating_key(event)

    # -- profiles -------------------------------------------------------------------------------------------
    def current_profile_id(self) -> int | None:
        data = self.profile_box.currentData()
        return int(data) if data is not None else None

    def _reload_profiles(self, select: int | None = None) -> None:
        self.profile_box.blockSignals(True)
        self.profile_box.clear()
        profiles = self.library.profiles() if self.library is not None else []
        if not profiles:
            self.profile_box.addItem("(none yet)", None)
        for profile in profiles:
            self.profile_box.addItem(profile.name, profile.id)
        wanted = select
        if wanted is None and self.library is not None:
            remembered = self.preferences.profile_for(self.library.album)
            wanted = next((p.id for p in profiles if p.name == remembered), None)
        if wanted is not None:
            self.profile_box.setCurrentIndex(max(0, self.profile_box.findData(wanted)))
        self.profile_box.blockSignals(False)

    def _profile_changed(self) -> None:
        """Scores are stored per profile, so switching re-sorts at once, without any model work."""
        if self.library is None:
            return
        profile_id = self.current_profile_id()
        if profile_id is not None:
            self.preferences.set_profile_for(self.library.album, self.profile_box.currentText())
        self.model.set_scores(self.library.scores(profile_id) if profile_id is not None else {})
        self._update_actions()

    def rename_profile_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if self.library is None or profile_id is None:
            return
        name, ok = QInputDialog.getText(self, "Rename profile", "New name:", text=self.profile_box.currentText())
        if ok and name.strip():
            try:
                self.library.rename_profile(profile_id, name.strip())
            except CuratorError as exc:
                self.show_error("Rename profile", str(exc))
                return
            self._reload_profiles(select=profile_id)

    def delete_profile_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if self.library is None or profile_id is None:
            return
        answer = QMessageBox.question(
            self, "Delete profile", f"Delete the profile “{self.profile_box.currentText()}” and its scores?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.library.delete_profile(profile_id)
            self._reload_profiles()
            self._profile_changed()

    # -- sorting and filtering ---------------------------------------------------------------------------------
    def _view_changed(self) -> None:
        filter_ = self.filter_box.currentData()
        self.filter_value_action.setVisible(filter_ in (Filter.TOP_N, Filter.TOP_PERCENT, Filter.MIN_SCORE))
        self.filter_value.setSuffix({Filter.TOP_PERCENT: " %"}.get(filter_, ""))
        self.filter_value.setDecimals(0 if filter_ is Filter.TOP_N else 1)
        current = self.current_item()
        self.model.set_view(self.sort_box.currentData(), self.filter_box.currentData(), self.filter_value.value())
        if current is not None:
            self.select_photo(current.id)

    def show_view(self, order: SortOrder, filter_: Filter = Filter.ALL, value: float | None = None) -> None:
        for box, data in ((self.sort_box, order), (self.filter_box, filter_)):
            box.blockSignals(True)
            box.setCurrentIndex(box.findData(data))
            box.blockSignals(False)
        if value is not None:
            self.filter_value.blockSignals(True)
            self.filter_value.setValue(value)
            self.filter_value.blockSignals(False)
        self._view_changed()

    # -- suggestions and XMP ---------------------------------------------------------------------------------
    def suggest_clicked(self) -> None:
        if self.library is None:
            return
        library, cache = self.library, self.thumbnails
        wanted = max(10, curation.MIN_RATINGS - curation.rating_readiness(library).rated)

        def job(progress, cancel):
            return curation.suggest_photos_to_rate(library, cache, wanted, progress=progress, cancel=cancel)

        self.run_task("suggest", job, self._suggest_done)

    def _suggest_done(self, ids: list[int]) -> None:
        if not ids:
            self.show_info("Suggest photos", "Every photo already has a rating.")
            return
        self.model.suggested = ids
        self.show_view(self.sort_box.currentData(), Filter.SUGGESTED)
        self.select_photo(ids[0])
        self.grid.setFocus()
        self.statusBar().showMessage(
            f"{len(ids)} varied photos to rate: use 1-5, X (reject) and the arrow keys", 15_000
        )

    def import_xmp_clicked(self) -> None:
        if self.library is None:
            return
        library = self.library

        def job(progress, cancel):
            from aesthetic_curator.library.album import import_xmp_ratings

            return import_xmp_ratings(library, progress=progress, cancel=cancel)

        def done(outcome) -> None:
            self._reload_model()
            message = f"Imported ratings of {outcome.imported} photo(s) from XMP."
            if outcome.problems:
                listed = "\n".join(f"{display_path(path)}: {problem}" for path, problem in outcome.problems[:10])
                more = f"\n… and {len(outcome.problems) - 10} more" if len(outcome.problems) > 10 else ""
                message += f"\n\n{len(outcome.problems)} could not be used:\n{listed}{more}"
            self.show_info("Import ratings", message)

        self.run_task("import XMP", job, done)

    # -- personalize and rank ------------------------------------------------------------------------------------
    def _bundle_or_explain(self) -> Path | None:
        path = self.preferences.bundle_path
        if path is None:
            self.show_error("No model bundle", NO_BUNDLE_HELP + "\n\nOpen Settings → Model Setup.")
        return path

    def personalize_clicked(self) -> None:
        if self.library is None or self._bundle_or_explain() is None:
            return
        existing = {p.name for p in self.library.profiles()}
        candidates = ("My taste", *(f"My taste {n}" for n in range(2, 1000)))
        default = next(c for c in candidates if c not in existing)
        name, ok = QInputDialog.getText(self, "Personalize", "Name of the new profile:", text=default)
        if not ok or not name.strip():
            return
        if name.strip() in existing:
            answer = QMessageBox.question(self, "Personalize", f"Replace the profile “{name.strip()}”?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.start_personalization(name.strip(), confirm=True)

    def start_personalization(self, name: str, confirm: bool = False) -> None:
        """Estimate the time first (on the CPU, ask when it is long), then learn and then rank."""
        library, bundle_path = self.library, self.preferences.bundle_path
        if library is None or bundle_path is None:
            return
        device, solver = self.preferences.device, self.preferences.solver
        k = curation.rating_readiness(library).rated

        def estimate(progress, cancel):
            from aesthetic_curator.engine import Bundle, PersonalizeConfig, resolve_device
            from aesthetic_curator.engine.workflows import estimate_personalization_seconds

            resolved = resolve_device(device)
            seconds = estimate_personalization_seconds(
                Bundle.load(bundle_path), k, PersonalizeConfig(solver=solver), resolved
            )
            return resolved.type, seconds

        def estimated(result) -> None:
            device_type, seconds = result
            where = "the GPU" if device_type == "cuda" else "the CPU"
            self.statusBar().showMessage(f"Personalizing on {where}: about {_duration(seconds)}", 15_000)
            if confirm and device_type == "cpu" and seconds > CONFIRM_SECONDS:
                answer = QMessageBox.question(
                    self,
                    "Personalize",
                    f"Learning from {k} ratings on the CPU will take about {_duration(seconds)} "
                    f"(no CUDA GPU found). You can keep browsing and rating meanwhile, and cancel at any time.\n\n"
                    "Start now?",
                )
                if answer != QMessageBox.StandardButton.Yes:
                    return
            self._personalize(name, bundle_path, device, solver)

        self.run_task("estimate", estimate, estimated)

    def _personalize(self, name: str, bundle_path: Path, device: str, solver: str) -> None:
        library = self.library
        if library is None:
            return

        def job(progress, cancel):
            return curation.personalize_album(
                library, bundle_path, name, solver=solver, device=device, progress=progress, cancel=cancel
            )

        def done(result: curation.PersonalizedProfile) -> None:
            self._reload_profiles(select=result.profile_id)
            self.preferences.set_profile_for(library.album, result.name)
            skipped = f"; {len(result.skipped)} unreadable rated photo(s) skipped" if result.skipped else ""
            self.statusBar().showMessage(
                f"Profile “{result.name}” learned from {result.k} ratings in {result.seconds:.1f}s "
                f"(agreement with your ratings: {result.train_srocc:.2f}){skipped}; ranking the album…",
                15_000,
            )
            self.personalized.emit(result.profile_id)
            self.start_ranking(result.profile_id)

        self.run_task("personalize", job, done)

    def rank_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if profile_id is None:
            self.show_error("Rank album", "There is no profile yet: rate some photos and press Personalize first.")
            return
        if self._bundle_or_explain() is not None:
            self.start_ranking(profile_id)

    def start_ranking(self, profile_id: int) -> None:
        library, bundle_path, device = self.library, self.preferences.bundle_path, self.preferences.device
        if library is None or bundle_path is None:
            return

        def job(progress, cancel):
            return curation.rank_album(
                library, bundle_path, profile_id, device=device, progress=progress, cancel=cancel
            )

        def done(result: curation.AlbumRanking) -> None:
            if self.current_profile_id() != profile_id:
                self._reload_profiles(select=profile_id)
            self.model.set_scores(library.scores(profile_id))
            self.show_view(SortOrder.SCORE, self.filter_box.currentData())
            if self.model.rowCount():
                self.grid.setCurrentIndex(self.model.index(0))
                self.grid.scrollToTop()
            skipped = f", {len(result.skipped)} unreadable skipped" if result.skipped else ""
            self.statusBar().showMessage(
                f"Ranked {result.ranked} photos in {result.seconds:.1f}s ({result.photos_per_second:.1f}/s){skipped}",
                15_000,
            )
            self._update_actions()
            self.ranked.emit(profile_id)

        self.run_task("rank", job, done)

    # -- export -----------------------------------------------------------------------------------------------
    def export_clicked(self) -> None:
        if self.library is None:
            return
        has_scores = self.current_profile_id() is not None and self.model.has_scores()
        dialog = ExportDialog(
            self.profile_box.currentText() if has_scores else None, self.library.album.parent / "curated", self
        )
        if dialog.exec() == ExportDialog.DialogCode.Accepted:
            self.start_export(dialog.choice())

    def start_export(self, choice: ExportChoice) -> None:
        library = self.library
        if library is None:
            return
        profile_id = self.current_profile_id() if choice.use_profile else None

        def job(progress, cancel):
            return curation.export_album(
                library,
                profile_id,
                choice.dest,
                top=choice.top,
                top_percent=choice.top_percent,
                min_score=choice.min_score,
                mode=choice.mode,
                write_xmp=choice.write_xmp,
                progress=progress,
                cancel=cancel,
            )

        def done(report) -> None:
            notes = "\n".join(report.problems[:10])
            self.show_info(
                "Export finished",
                f"Exported {report.written} photo(s) to {choice.dest} in {report.seconds:.1f}s."
                + (f" {report.resumed} were already there from an earlier run." if report.resumed else "")
                + (f"\n\n{notes}" if notes else ""),
            )
            self.exported.emit(report)

        self.run_task("export", job, done)

    # -- settings ----------------------------------------------------------------------------------------------
    def settings_clicked(self) -> None:
        SettingsDialog(self.preferences, self).exec()
        self._update_actions()

    # -- background work ---------------------------------------------------------------------------------------
    def run_task(self, name: str, job: Job, on_finished) -> BackgroundTask | None:
        """Start ``job`` on a worker thread; only one long task runs at a time."""
        if self.is_busy():
            self.show_error("Busy", f"Wait for “{self.task.name}” to finish, or cancel it first.")
            return None
        task = BackgroundTask(name, job, self)
        task.progress.connect(self._on_progress)
        task.finished.connect(on_finished)
        task.failed.connect(lambda message: self._on_failed(name, message))
        task.cancelled.connect(lambda: self.statusBar().showMessage(f"{name.capitalize()} cancelled", 10_000))
        task.done.connect(self._on_task_done)
        self.task = task
        self.task_label.setText(f"{name.capitalize()}…")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self._update_actions()
        task.start()
        return task

    def _on_progress(self, progress: Progress) -> None:
        task = self.task
        if task is None:
            return
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(progress.done)
        text = f"{task.name.capitalize()}: {progress.stage} {progress.done}/{progress.total}"
        if progress.loss is not None:
            text += f" · loss {progress.loss:.3f}"
        if task.name == "rank" and progress.stage == "ranking" and progress.done:
            elapsed = max(1e-6, time.monotonic() - task.started_at)
            text += f" · {progress.done / elapsed:.1f} photos/s"
        self.task_label.setText(text)

    def _on_failed(self, name: str, message: str) -> None:
        self.show_error(f"{name.capitalize()} failed", message)
        self.task_failed.emit(message)

    def _on_task_done(self) -> None:
        if not self.is_busy():
            self.progress_bar.setVisible(False)
            self.cancel_button.setVisible(False)
            self.task_label.setText("")
        self._update_actions()

    def cancel_task(self, wait: bool = False) -> None:
        if self.task is None or not self.is_busy():
            return
        self.cancel_button.setEnabled(False)
        self.task_label.setText(f"Cancelling {self.task.name}…")
        self.task.cancel()
        if wait:
            self.task.wait()

    def is_busy(self) -> bool:
        return self.task is not None and self.task.is_busy()

    def _update_actions(self) -> None:
        busy = self.is_busy()
        has_album = self.library is not None
        readiness = curation.rating_readiness(self.library) if has_album else None
        self.personalize_action.setEnabled(has_album and not busy and bool(readiness and readiness.ready))
        self.personalize_action.setToolTip(readiness.explain() if readiness else "open a folder first")
        has_profile = self.current_profile_id() is not None
        self.rank_action.setEnabled(has_album and not busy and has_profile)
        for action in (self.suggest_action, self.import_xmp_action, self.export_action):
            action.setEnabled(has_album and not busy)
        self.rename_profile_action.setEnabled(has_profile)
        self.delete_profile_action.setEnabled(has_profile and not busy)
        self._update_counter(readiness)

    # -- messages ----------------------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """A readable, non-blocking message (work in other threads keeps going)."""
        log.warning("%s: %s", title, message)
        self.error_box = self._message(QMessageBox.Icon.Warning, title, message)

    def show_info(self, title: str, message: str) -> None:
        self.info_box = self._message(QMessageBox.Icon.Information, title, message)

    def _message(self, icon: QMessageBox.Icon, title: str, message: str) -> QMessageBox:
        box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        box.open()
        return box

    # -- closing -----------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel running work and wait for it, so nothing is left half-written."""
        if self.is_busy():
            self.cancel_task(wait=True)
        if self.task is not None:
            self.task.wait()
        self.preferences.save_window_state(self.saveGeometry(), self.saveState())
        self.preferences.sync()
        self.loader.wait()
        if self.library is not None:
            self.library.close()
            self.library = None
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1280, 820)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._update_actions)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
