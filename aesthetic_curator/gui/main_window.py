"""The main window: open an album, rate, personalize, rank, sort, filter and export.

A view: the :class:`AlbumController` owns the album, the model and the long work (one task at a time,
off the UI thread); the window builds the widgets (:mod:`window_actions`), forwards the user's
commands to the controller and renders its signals. Messages from failed work appear in a
non-blocking message box.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMessageBox

from aesthetic_curator import curation
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.gui import photo_files, window_actions
from aesthetic_curator.gui.controller import AlbumController
from aesthetic_curator.gui.export_dialog import ExportChoice, ExportDialog
from aesthetic_curator.gui.folder_watch import AlbumWatcher
from aesthetic_curator.gui.loupe import LoupeDialog
from aesthetic_curator.gui.photo_grid import PhotoGridView
from aesthetic_curator.gui.photo_model import PHOTO_ROLE, Filter, PhotoItem, PhotoListModel
from aesthetic_curator.gui.preferences import Preferences
from aesthetic_curator.gui.screen_fit import resize_within_screen
from aesthetic_curator.gui.settings_dialog import SettingsDialog
from aesthetic_curator.gui.survey_dialog import SurveyDialog
from aesthetic_curator.gui.task_status import TaskStatus, human_duration
from aesthetic_curator.gui.tasks import TaskRunner
from aesthetic_curator.gui.thumbnail_loader import ThumbnailLoader
from aesthetic_curator.gui.window_bursts import WindowBursts
from aesthetic_curator.gui.window_compare import WindowCompare
from aesthetic_curator.gui.window_profiles import WindowProfiles
from aesthetic_curator.gui.window_ratings import WindowRatings
from aesthetic_curator.gui.window_views import WindowViews
from aesthetic_curator.gui.window_watch import WindowWatch
from aesthetic_curator.gui.window_xmp import WindowXmp
from aesthetic_curator.library.thumbnails import ThumbnailCache
from aesthetic_curator.model_setup import NO_BUNDLE_HELP
from aesthetic_curator.profile_progress import learned_from

log = logging.getLogger(__name__)

#: Above this estimate on the CPU the user is asked before personalization starts.
CONFIRM_SECONDS = 30.0


class MainWindow(
    WindowViews, WindowRatings, WindowCompare, WindowProfiles, WindowBursts, WindowXmp, WindowWatch, QMainWindow
):
    album_loaded = Signal()
    personalized = Signal(int)  # profile id
    ranked = Signal(int)  # profile id
    exported = Signal(object)  # ExportReport
    task_failed = Signal(str)

    def __init__(self, preferences: Preferences | None = None, runner: TaskRunner | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Aesthetic Curator")
        self.setAcceptDrops(True)
        self.preferences = preferences or Preferences()
        self.thumbnails = ThumbnailCache()
        self.controller = AlbumController(self.preferences, self.thumbnails, runner, self)
        self.error_box: QMessageBox | None = None
        self.info_box: QMessageBox | None = None
        self.xmp_box: QMessageBox | None = None  # the question before writing XMP sidecars
        self.loader = ThumbnailLoader(self.thumbnails, parent=self)
        self.watcher = AlbumWatcher(self)
        self.watcher.changed.connect(self._folder_changed)
        self.watcher.moved.connect(self._album_renamed)
        self.model = PhotoListModel()
        self.model.set_loader(self.loader)
        self.grid = PhotoGridView(tile_size=self.preferences.tile_size)
        self.grid.setModel(self.model)
        self.grid.tile_size_changed.connect(lambda size: setattr(self.preferences, "tile_size", size))
        self.grid.rating_key.connect(self.handle_rating_key)
        self.grid.open_loupe.connect(self.open_loupe)
        self.grid.selectionModel().currentChanged.connect(lambda *_: self._update_selection_status())
        self.setCentralWidget(self.grid)
        self.loupe: LoupeDialog | None = None
        self.survey: SurveyDialog | None = None
        window_actions.build_actions(self)
        window_actions.build_toolbar(self)
        window_actions.build_menus(self)
        window_actions.build_status_bar(self)
        self._fill_recent_menu()
        self._forget_rating_history()
        self._connect_controller()
        geometry, state = self.preferences.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            resize_within_screen(self, 1280, 820)
        if state is not None:
            self.restoreState(state)
        self._update_actions()

    def _connect_controller(self) -> None:
        c = self.controller
        self.task_status = TaskStatus(self.controller, self.task_label, self.progress_bar, self.cancel_button, self)
        c.task_started.connect(self._update_actions)
        c.task_ended.connect(self._update_actions)
        c.failed.connect(self._on_failed)
        c.cancelled.connect(lambda name: self.statusBar().showMessage(f"{name.capitalize()} cancelled", 10_000))
        c.scanned.connect(self._scan_done)
        c.new_photos_ranked.connect(self._new_photos_ranked)
        c.suggested.connect(self._suggest_done)
        c.xmp_imported.connect(self._xmp_done)
        c.xmp_written.connect(self._xmp_written)
        c.estimated.connect(self._estimated)
        c.personalized.connect(self._personalized)
        c.ranked.connect(self._ranked)
        c.exported.connect(self._exported)
        self._connect_profile_views()
        c.bursts_found.connect(self._bursts_found)
        c.sharpness_measured.connect(self._sharpness_measured)
        self.album_loaded.connect(self._album_scanned_bursts)
        self._connect_bursts()

    @property
    def library(self):
        return self.controller.library

    @property
    def task(self):
        return self.controller.task

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
        self._remember_view()
        try:
            self.controller.open_album(folder)
        except CuratorError as exc:
            self.show_error("Cannot open folder", str(exc))
            return
        self.loader.wait()
        self.loader = ThumbnailLoader(self.thumbnails, parent=self)
        self.model.set_loader(self.loader)
        self.model.forget_album()
        self._fill_recent_menu()
        self._forget_rating_history()
        self.setWindowTitle(f"{folder.name} — Aesthetic Curator")
        self._reload_profiles()
        self._reload_model()
        self._restore_view()
        self._watch_album(folder)
        self.controller.scan()

    def _scan_done(self, summary) -> None:
        if self._refreshed(summary):
            return
        self._reload_model()
        self.statusBar().showMessage(self._scan_report(summary), 15_000)
        self.album_loaded.emit()
        self._new_photos_found(summary)

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

    def _update_selection_status(self) -> None:
        item = self.current_item()
        if item is None:
            self.selection_label.setText("")
            return
        score = f" · rank {item.rank} · score {item.score:.2f}" if item.rank is not None else ""
        self.selection_label.setText(f"  {item.name_text()}{score}")
        if self.loupe is not None and self.loupe.isVisible():
            self._show_in_loupe(item)

    # -- suggestions ---------------------------------------------------------------------------------
    def suggest_clicked(self) -> None:
        if self.library is not None:
            self.controller.suggest(max(10, curation.MIN_RATINGS - curation.rating_readiness(self.library).rated))

    def _suggest_done(self, ids: list[int]) -> None:
        if not ids:
            self.show_info("Suggest photos", "Every photo already has a rating.")
            return
        self.model.suggested = ids
        self.show_view(self.sort_box.currentData(), Filter.SUGGESTED)
        self.select_photo(ids[0])
        self.grid.setFocus()
        self.statusBar().showMessage(f"{len(ids)} varied photos to rate (keys 1-5, X rejects, arrows move)", 15_000)

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
        self.controller.personalize(name, self._confirm_long_run if confirm else None)

    def _estimated(self, estimate: curation.PersonalizationEstimate) -> None:
        where = "the GPU" if estimate.device_type == "cuda" else "the CPU"
        self.statusBar().showMessage(f"Personalizing on {where}: about {human_duration(estimate.seconds)}", 15_000)

    def _confirm_long_run(
        self, estimate: curation.PersonalizationEstimate, readiness: curation.RatingReadiness
    ) -> bool:
        if estimate.device_type != "cpu" or estimate.seconds <= CONFIRM_SECONDS:
            return True
        answer = QMessageBox.question(
            self,
            "Personalize",
            f"Learning from {readiness.told()}{_also_elsewhere(estimate, readiness)} on the CPU will take about "
            f"{human_duration(estimate.seconds)} "
            f"(no CUDA GPU found). You can keep browsing and rating meanwhile, and cancel at any time.\n\n"
            "Start now?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _personalized(self, result: curation.PersonalizedProfile) -> None:
        self._reload_profiles(select=result.profile_id)
        skipped = f"; {len(result.skipped)} unreadable photo(s) skipped" if result.skipped else ""
        if away := (result.elsewhere or {}).get("unreachable"):
            skipped += f"; {away} other album(s) with answers cannot be reached now (a drive unplugged?)"
        answers = result.progress.answers if result.progress else None
        told = learned_from(result.k, result.comparisons, answers, result.elsewhere)
        knows = f" — {result.progress.describe()}" if result.progress and result.progress.describe() else ""
        self.statusBar().showMessage(
            f"Profile “{result.name}” learned from {told} in {result.seconds:.1f}s{knows}{skipped}; ranking…", 15_000
        )
        self.personalized.emit(result.profile_id)

    def rank_clicked(self) -> None:
        profile_id = self.current_profile_id()
        if profile_id is None:
            self.show_error("Rank album", "There is no profile yet: rate some photos and press Personalize first.")
            return
        if self._bundle_or_explain() is not None:
            self.start_ranking(profile_id)

    def start_ranking(self, profile_id: int) -> None:
        self.controller.rank(profile_id)

    def _ranked(self, result: curation.AlbumRanking) -> None:
        library, profile_id = self.library, result.profile_id
        if library is None:
            return
        if self.current_profile_id() != profile_id:
            self._reload_profiles(select=profile_id)
        self.model.set_scores(library.scores(profile_id))
        self.show_ranking()
        skipped = f", {len(result.skipped)} unreadable skipped" if result.skipped else ""
        knows = f" — {result.progress.describe()}" if result.progress and result.progress.describe() else ""
        self.statusBar().showMessage(
            f"Ranked {result.ranked} photos in {result.seconds:.1f}s ({result.photos_per_second:.1f}/s)"
            f"{skipped}{knows}",
            30_000,
        )
        self._update_actions()
        self.ranked.emit(profile_id)

    # -- export -----------------------------------------------------------------------------------------------
    def export_clicked(self) -> None:
        if self.library is None:
            return
        has_scores = self.current_profile_id() is not None and self.model.has_scores()
        profile = self.profile_box.currentText() if has_scores else None
        album = self.library.album
        dest = self.preferences.export_folder_for(album) or album.parent / "curated"
        dialog = ExportDialog(profile, dest, self, shown=self.model.rowCount())
        dialog.restore(self.preferences.export_choices())
        if dialog.exec() == ExportDialog.DialogCode.Accepted:
            choice = dialog.choice()
            self.preferences.set_export_choices(choice.remembered())
            self.preferences.set_export_folder_for(album, choice.dest)
            self.start_export(choice)

    def start_export(self, choice: ExportChoice) -> None:
        self._export_dest = choice.dest
        shown = [self.model.item_at(row).id for row in range(self.model.rowCount())] if choice.shown else None
        self.controller.export(
            self.current_profile_id() if choice.use_profile or choice.shown else None,
            choice.dest,
            top=choice.top,
            top_percent=choice.top_percent,
            min_score=choice.min_score,
            mode=choice.mode,
            long_edge=choice.long_edge,
            write_xmp=choice.write_xmp,
            best_of_bursts=choice.best_of_bursts,
            only_picks=choice.only_picks,
            with_raw=choice.with_raw,
            numbered=choice.numbered,
            photo_ids=shown,
        )

    def _exported(self, report) -> None:
        notes = "\n".join(report.problems[:10])
        self.show_info(
            "Export finished",
            f"Exported {report.written} photo(s) to {self._export_dest} in {report.seconds:.1f}s."
            + (f" {report.resumed} were already there from an earlier run." if report.resumed else "")
            + (f"\n\n{notes}" if notes else ""),
        )
        folder = self.info_box.addButton("Show Folder", QMessageBox.ButtonRole.ActionRole)  # where they went
        folder.clicked.connect(lambda _=False, dest=self._export_dest: photo_files.open_folder(dest))
        self.exported.emit(report)

    # -- settings ----------------------------------------------------------------------------------------------
    def settings_clicked(self) -> None:
        SettingsDialog(self.preferences, self, self.controller.runner).exec()
        self._update_actions()

    # -- background work ---------------------------------------------------------------------------------------
    def _on_failed(self, title: str, message: str) -> None:
        self.show_error(title, message)
        self.task_failed.emit(message)

    def cancel_task(self, wait: bool = False) -> None:
        if self.is_busy():
            self.task_status.cancelling(self.task.name)
            self.controller.cancel(wait)

    def is_busy(self) -> bool:
        return self.controller.is_busy()

    def _update_actions(self) -> None:
        busy = self.is_busy()
        waits = busy and not self.controller.runs_in_background()  # else a press starts when the scan (…) ends
        has_album = self.library is not None
        readiness = curation.rating_readiness(self.library) if has_album else None
        self.personalize_action.setEnabled(has_album and not waits and bool(readiness and readiness.ready))
        self.personalize_action.setToolTip(readiness.explain() if readiness else "open a folder first")
        has_profile = self.current_profile_id() is not None
        self.rank_action.setEnabled(has_album and not waits and has_profile)
        for action in (self.suggest_action, self.import_xmp_action, self.write_xmp_action, self.export_action):
            action.setEnabled(has_album and not waits)
        self.compare_action.setEnabled(has_album and not busy)
        self.refresh_action.setEnabled(has_album)  # while busy, it waits for the task
        self._update_profile_actions(has_profile, busy)
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
        self._remember_view()
        self.controller.shutdown()
        self.preferences.save_window_state(self.saveGeometry(), self.saveState())
        self.preferences.sync()
        self.loader.wait()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1280, 820)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._update_actions)


def _also_elsewhere(estimate: curation.PersonalizationEstimate, readiness: curation.RatingReadiness) -> str:
    """What Learn From All My Albums adds to the answers told (", and 120 photos judged in your other albums,")."""
    more = estimate.photos - readiness.photos
    return f", and {more} photos judged in your other albums," if more > 0 else ""
