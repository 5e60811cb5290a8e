"""The album controller: the open album, the loaded model, and the long work the window asks for.

It owns the album's :class:`Library`, one model session per bundle and device (through ``curation``;
loaded once, reused by estimate, personalize and rank), and the task that is running. The window
calls its methods and renders its signals; it never sees a model. Tasks come from an injected
:class:`TaskRunner`, so tests run them synchronously.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from aesthetic_curator import album_export, curation, focus, profile_editing
from aesthetic_curator.comparison_questions import comparisons_to_ask
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.gui.preferences import Preferences
from aesthetic_curator.gui.tasks import Job, Task, TaskRunner
from aesthetic_curator.library.other_albums import ProfileElsewhere, answers_elsewhere
from aesthetic_curator.library.store import Library, libraries_dir
from aesthetic_curator.library.thumbnails import ThumbnailCache

log = logging.getLogger(__name__)

#: Quiet time after the last rating before its photo is scored by every task (a burst of keys is one batch).
SCORE_AHEAD_DELAY_MS = 2000
#: Asked before personalization starts: (estimate, what the user told: ratings and comparisons) -> go ahead?
Confirm = Callable[[curation.PersonalizationEstimate, curation.RatingReadiness], bool]

#: Tasks the app runs by itself (the scan when an album opens) or for a view (bursts, hidden gems): a press
#: that comes while one runs (Suggest, Personalize, Rank, Export…) starts when it ends, with no "Busy" box.
BACKGROUND_TASKS = frozenset({"scan", "find bursts", "find hidden gems", "rank new photos"})


class AlbumController(QObject):
    task_started = Signal(str)  # task name
    task_progress = Signal(object)  # Progress
    task_ended = Signal()  # the task's thread has stopped (after its outcome)
    task_queued = Signal(str)  # a task asked for while a background one ran: it starts when that one ends
    failed = Signal(str, str)  # title, readable message
    cancelled = Signal(str)  # task name
    scanned = Signal(object)  # library.album.IndexSummary
    suggested = Signal(object)  # list of photo ids
    xmp_imported = Signal(object)  # library.album.XmpImport
    xmp_written = Signal(object)  # library.album.XmpWrite
    estimated = Signal(object)  # curation.PersonalizationEstimate
    personalized = Signal(object)  # curation.PersonalizedProfile
    ranked = Signal(object)  # curation.AlbumRanking
    exported = Signal(object)  # library.export.ExportReport
    comparisons_chosen = Signal(object)  # list of (photo id, photo id) to ask "A or B?" about
    bursts_found = Signal(object)  # bursts.BurstReport
    sharpness_measured = Signal(object)  # photo id -> focus.photo_sharpness
    gems_found = Signal(int, object)  # profile id, set of photo ids (profile_editing.hidden_gems)
    explained = Signal(object)  # engine.explain.Explanations
    new_photos_ranked = Signal(object)  # curation.AlbumRanking of the photos fitted in, or None

    def __init__(
        self,
        preferences: Preferences,
        thumbnails: ThumbnailCache,
        runner: TaskRunner | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.preferences = preferences
        self.thumbnails = thumbnails
        self.runner = runner or TaskRunner()
        self.library: Library | None = None
        self.task: Task | None = None
        self._model: Any = None  # the ModelSession for _model_key
        self._model_key: tuple[Path, str] | None = None
        self._model_lock = threading.Lock()  # model() runs on the UI thread and on the preload task
        self.preload_task: Task | None = None  # opening the model session ahead of its first use
        #: Scoring newly rated photos with every task ahead of Personalize, on its own task, a moment
        #: after the last rating (it waits for, and is waited for by, the main task's model work).
        self.score_ahead_task: Task | None = None
        self.compare_task: Task | None = None  # choosing the next "A or B?" pairs
        self._score_ahead_timer = QTimer(self, singleShot=True, interval=SCORE_AHEAD_DELAY_MS)
        self._score_ahead_timer.timeout.connect(self.score_ahead)
        self._waiting: dict[str, Callable[[], None]] = {}  # when_idle: what to start once the task has ended
        self.task_ended.connect(self._start_waiting)

    # -- the album --------------------------------------------------------------------------------------
    def open_album(self, folder: Path) -> Library:
        """Open (or create) the album's library, closing the previous one; raises CuratorError. What the
        library already knows can be shown at once; :meth:`scan` then brings it up to date."""
        if self.is_busy():
            self.cancel(wait=True)
        library = Library.open_for_album(folder)
        self.close_album()
        self.library = library
        self.preferences.remember_folder(folder)
        if library.carried_from is not None:  # the folder was moved or renamed: what was remembered comes along
            self.preferences.carry_album_over(library.carried_from, library.album)
        return library

    def scan(self, settle_seconds: float = 0.0) -> None:
        """Re-scan the album folder in the background (new, changed, moved and missing photos; photos written
        to within ``settle_seconds`` wait: ``index_album``)."""
        library = self.library

        def job(progress, cancel):
            from aesthetic_curator.library.album import index_album

            return index_album(library, progress=progress, cancel=cancel, settle_seconds=settle_seconds)

        def scanned(summary) -> None:
            self.scanned.emit(summary)
            self.preload_model()  # after the scan: importing torch alongside made a 20,000-photo scan 6x slower

        if library is not None:
            self.run("scan", job, scanned)

    def close_album(self) -> None:
        self._waiting.clear()
        self._stop_album_tasks()
        if self.library is not None:
            self.library.close()
            self.library = None

    def model(self):
        """The model session for the chosen bundle and device (a new one when either changed)."""
        path = self.preferences.bundle_path
        if path is None:
            return None
        key = (path, self.preferences.device)
        with self._model_lock:
            if key != self._model_key:
                self._model, self._model_key = curation.open_model(path, self.preferences.device), key
            return self._model

    def preload_model(self) -> None:
        """Open the model session on a worker thread once an album is scanned: the first open imports torch and
        reads the bundle (about 7 s on 2 cores), which froze the window at the first Compare or rating."""
        key = (self.preferences.bundle_path, self.preferences.device)
        if key[0] is None or key == self._model_key or (self.preload_task is not None and self.preload_task.is_busy()):
            return
        task = self.runner.create("load model", lambda progress, cancel: self.model(), self)
        task.failed.connect(lambda message: log.info("loading the model ahead failed: %s", message))
        self.preload_task = task
        task.start()

    # -- scoring rated photos ahead of Personalize -------------------------------------------------------
    def ratings_changed(self) -> None:
        """Called after the user rated: score the new ratings' photos soon, in the background."""
        self._score_ahead_timer.start()

    def score_ahead(self) -> None:
        library, model = self.library, self.model()
        if library is None or model is None or self.is_busy():
            return  # a busy model is left alone; the next rating tries again
        if self.score_ahead_task is not None and self.score_ahead_task.is_busy():
            self._score_ahead_timer.start()  # one at a time: look again in a moment
            return

        solver, everywhere = self.preferences.solver, self.preferences.learn_everywhere

        def job(progress, cancel):  # with Learn From All My Albums, the other albums' judged photos too
            elsewhere = answers_elsewhere(libraries_dir(), library.album) if everywhere else None
            return curation.score_rated_photos_ahead(library, model, cancel, solver, elsewhere)

        task = self.runner.create("score ahead", job, self)
        task.failed.connect(lambda message: log.info("scoring rated photos ahead failed: %s", message))
        self.score_ahead_task = task
        task.start()

    def _stop_album_tasks(self) -> None:
        """Stop what runs for the open album beside the main task (score-ahead, pair choosing, model load)."""
        self._score_ahead_timer.stop()
        for task in (self.score_ahead_task, self.compare_task, self.preload_task):
            if task is not None and task.is_running():
                task.cancel()
                task.wait()

    # -- actions ----------------------------------------------------------------------------------------
    def suggest(self, count: int) -> None:
        library, cache = self.library, self.thumbnails

        def job(progress, cancel):
            return curation.suggest_photos_to_rate(library, cache, count, progress=progress, cancel=cancel)

        if library is not None:
            self.run("suggest", job, self.suggested.emit)

    # -- comparisons ------------------------------------------------------------------------------------
    def choose_comparisons(self, count: int, profile_id: int | None, waiting: list[tuple[int, int]]) -> None:
        """Pick the next pairs to ask about (comparison_questions.comparisons_to_ask) on a task of their own, so the
        compare view keeps asking while a personalization or ranking runs; ``waiting`` (queued or skipped
        pairs) are not chosen again."""
        library, model, cache = self.library, self.model(), self.thumbnails
        if library is None or (self.compare_task is not None and self.compare_task.is_busy()):
            return
        seed = len(library.comparisons()) + 1_000 * len(waiting)  # a new pool for each batch asked ahead

        def job(progress, cancel):
            return comparisons_to_ask(
                library, cache, model, profile_id, count, seed=seed, waiting=waiting, cancel=cancel
            )

        task = self.runner.create("choose comparisons", job, self)
        task.finished.connect(self.comparisons_chosen.emit)
        task.failed.connect(lambda message: self.failed.emit("Choosing photos to compare failed", message))
        self.compare_task = task
        task.start()

    def record_comparison(self, photo_a: int, photo_b: int, outcome: str) -> None:
        if self.library is not None:
            self.library.add_comparison(photo_a, photo_b, outcome)
            self.ratings_changed()

    def undo_comparison(self):
        """Take back the latest answer; returns it (a library Comparison) or None."""
        return self.library.undo_comparison() if self.library is not None else None

    def import_xmp(self) -> None:
        library = self.library

        def job(progress, cancel):
            from aesthetic_curator.library.album import import_xmp_ratings

            return import_xmp_ratings(library, progress=progress, cancel=cancel)

        if library is not None:
            self.run("import XMP", job, self.xmp_imported.emit)

    def write_xmp(self, naming: str) -> None:
        """The stars and rejects given in the app into sidecars beside the photos (``xmp.SIDECAR_NAMINGS``)."""
        library = self.library

        def job(progress, cancel):
            from aesthetic_curator.library.album import write_xmp_ratings

            return write_xmp_ratings(library, naming, progress=progress, cancel=cancel)

        if library is not None:
            self.run("write XMP", job, self.xmp_written.emit)

    def personalize(self, name: str, confirm: Confirm | None = None) -> None:
        """Estimate the time, ask ``confirm`` (when given), learn the profile, then rank the album."""
        library, model, solver = self.library, self.model(), self.preferences.solver
        if library is None or model is None:
            return
        readiness = curation.rating_readiness(library)
        everywhere = answers_elsewhere(libraries_dir(), library.album) if self.preferences.learn_everywhere else None
        rated = curation.judged_photos(library, everywhere)

        def estimate(progress, cancel):
            mostly = readiness.mostly_comparisons  # then the fast solver fits the coefficients at every count
            return curation.estimate_personalization(model, len(rated), solver, rated, progress, cancel, mostly)

        def learn(progress, cancel):
            options = {"solver": solver, "elsewhere": everywhere, "progress": progress, "cancel": cancel}
            return curation.personalize_album(library, model, name, **options)

        def estimated(estimate: curation.PersonalizationEstimate) -> None:
            self.estimated.emit(estimate)
            if confirm is None or confirm(estimate, readiness):
                self.run("personalize", learn, learned)

        def learned(result: curation.PersonalizedProfile) -> None:
            self.preferences.set_profile_for(library.album, result.name)
            self.personalized.emit(result)
            self.rank(result.profile_id)

        self.run("estimate", estimate, estimated)

    def rank(self, profile_id: int) -> None:
        library, model = self.library, self.model()
        if library is None or model is None:
            return

        def job(progress, cancel):
            return curation.rank_album(library, model, profile_id, progress=progress, cancel=cancel)

        self.run("rank", job, self._ranked_done)

    def find_bursts(self) -> None:
        """Read capture times and perceptual hashes of photos not read before, then group the bursts."""
        library = self.library
        if library is not None:
            from aesthetic_curator.bursts import album_bursts

            self.run("find bursts", functools.partial(album_bursts, library), self.bursts_found.emit)

    def measure_sharpness(self) -> None:
        """Measure the photos not measured before (focus.album_sharpness), for the Sharpness sort."""
        if self.library is not None:
            job = functools.partial(focus.album_sharpness, self.library)
            self.run("measure sharpness", job, self.sharpness_measured.emit)

    def rank_new_photos(self, profile_id: int, photo_ids: list[int]) -> None:
        """Fit photos the profile has not scored into its ranking (curation.rank_new_photos). It starts by itself
        after a scan, maybe while the model still loads: the session is opened on the worker, not here."""
        library = self.library

        def job(progress, cancel):
            model = self.model()
            return model and curation.rank_new_photos(library, model, profile_id, photo_ids, progress, cancel)

        if library is not None:
            self.run("rank new photos", job, self.new_photos_ranked.emit)

    # -- shaping profiles (profile_editing) --------------------------------------------------------------
    def profile_taste(self, profile_id: int):
        """(taste summary, number of earlier versions undo can return to); raises CuratorError."""
        library, model = self.library, self.model()
        if library is None or model is None:
            raise CuratorError("open an album and choose a model bundle first")
        return curation.profile_taste(library, model, profile_id), library.profile_version_count(profile_id)

    def reshape_profile(self, profile_id: int, scales: dict[str, float]) -> None:
        """Scale tasks, re-rank, store as the profile's new version; ends with ``ranked``."""
        library, model = self.library, self.model()
        if library is None or model is None:
            return

        def job(progress, cancel):
            return profile_editing.reshape_profile(library, model, profile_id, scales, progress=progress, cancel=cancel)

        self.run("apply", job, self._ranked_done)

    def undo_profile_change(self, profile_id: int) -> bool:
        """Back to the profile's previous version and its scores (instant: no model work)."""
        if self.library is None or self.is_busy():
            return False
        return profile_editing.undo_profile_change(self.library, profile_id)

    def blend_profiles(self, a_id: int, b_id: int, weight: float, name: str) -> None:
        """Store the blend as a new profile, then rank the album with it."""
        library, model = self.library, self.model()
        if library is None or model is None:
            return

        def job(progress, cancel):
            return profile_editing.blend_profiles(library, model, a_id, b_id, weight, name)

        self.run("blend", job, self._new_profile)

    def import_profile(self, source: Path | ProfileElsewhere) -> None:
        """Store a profile file or a copy of another album's profile (profile_editing), then rank the album."""
        library, model = self.library, self.model()
        if library is not None and model is not None:
            store = profile_editing.import_profile if isinstance(source, Path) else profile_editing.adopt_profile
            self.run("import profile", lambda progress, cancel: store(library, model, source), self._new_profile)

    def find_hidden_gems(self, profile_id: int) -> None:
        """Score the album with the plain average once per bundle (kept), then pick the profile's hidden gems."""
        library, model = self.library, self.model()
        if library is None or model is None:
            return

        def job(progress, cancel):
            plain = profile_editing.plain_average_scores(library, model, profile_id, progress=progress, cancel=cancel)
            return profile_editing.hidden_gems(library.scores(profile_id), plain.scores)

        self.run("find hidden gems", job, lambda gems: self.gems_found.emit(profile_id, gems))

    def explain(self, profile_id: int, photo_ids: list[int]) -> None:
        """Why these photos score as they do under the profile (profile_editing.explain_photos)."""
        library, model = self.library, self.model()
        if library is not None and model is not None:
            job = functools.partial(profile_editing.explain_photos, library, model, profile_id, photo_ids)
            self.run("explain scores", job, self.explained.emit)

    def _new_profile(self, profile_id: int) -> None:
        if self.library is not None:
            name = next((p.name for p in self.library.profiles() if p.id == profile_id), None)
            if name is not None:
                self.preferences.set_profile_for(self.library.album, name)
        self.rank(profile_id)

    def _ranked_done(self, result: curation.AlbumRanking) -> None:
        if self._model is not None:
            self._model.release_task_vectors()  # memory back until the next personalization
        self.ranked.emit(result)

    def export(self, profile_id: int | None, dest: Path, **choice: Any) -> None:
        library = self.library

        def job(progress, cancel):
            return album_export.export_album(library, profile_id, dest, progress=progress, cancel=cancel, **choice)

        if library is not None:
            self.run("export", job, self.exported.emit)

    # -- running tasks ----------------------------------------------------------------------------------
    def run(self, name: str, job: Job, on_finished: Callable[[Any], None]) -> bool:
        """Start ``job``; only one long task runs at a time. False when it could not start now: asked for while
        a background task runs it starts when that ends (``task_queued``); else a "Busy" message says why."""
        if self.is_busy():
            if self.task.name in BACKGROUND_TASKS and name not in BACKGROUND_TASKS:
                self.when_idle(name, lambda: self.run(name, job, on_finished))
                self.task_queued.emit(name)
            else:
                self.failed.emit("Busy", f"Wait for “{self.task.name}” to finish, or cancel it first.")
            return False
        task = self.runner.create(name, job, self)
        task.progress.connect(self.task_progress)
        task.finished.connect(on_finished)
        task.failed.connect(lambda message: self.failed.emit(f"{name.capitalize()} failed", message))
        task.cancelled.connect(lambda: self.cancelled.emit(name))
        task.done.connect(self.task_ended)
        self.task = task
        self.task_started.emit(name)
        task.start()
        return True

    def is_busy(self) -> bool:
        return self.task is not None and self.task.is_busy()

    def runs_in_background(self) -> bool:
        """A background task runs (:data:`BACKGROUND_TASKS`): what the user asks for now waits for it."""
        return self.is_busy() and self.task.name in BACKGROUND_TASKS

    def when_idle(self, key: str, start: Callable[[], None]) -> None:
        """Call ``start`` now, or once the running task has ended: for what a view change needs (bursts, hidden
        gems), where a "Busy" box would only be in the way. One call per ``key`` waits (the latest); ``start``
        should check again that it is still wanted."""
        if self.is_busy():
            self._waiting[key] = start
        else:
            start()

    def _start_waiting(self) -> None:
        while self._waiting and not self.is_busy():  # the first may start a task: the others wait for it
            start = self._waiting.pop(next(iter(self._waiting)))
            start()

    def cancel(self, wait: bool = False) -> None:
        if self.task is None or not self.is_busy():
            return
        self.task.cancel()
        if wait:
            self.task.wait()

    def shutdown(self) -> None:
        """Cancel running work and wait for it, so nothing is left half-written; close the album."""
        self._stop_album_tasks()
        self.cancel(wait=True)
        if self.task is not None:
            self.task.wait()
        self.close_album()
