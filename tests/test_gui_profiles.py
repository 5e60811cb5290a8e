"""Shaping taste in the app, as a user would: sliders with Apply and undo, blends, profile files, hidden gems."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog

from aesthetic_curator import profile_editing
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.gui.blend_dialog import BlendDialog
from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.gui.photo_model import Filter, SortOrder
from aesthetic_curator.gui.profiles_elsewhere_dialog import ProfilesElsewhereDialog
from aesthetic_curator.gui.tasks import ImmediateTaskRunner
from aesthetic_curator.library.other_albums import ProfileElsewhere
from tests.test_gui import THREAD_TIMEOUT, TIMEOUT, album, grid_ids, open_album, rate_with_keys, threaded_window, window  # noqa: F401


@pytest.fixture
def personalized(qtbot, window: MainWindow, album: Path) -> MainWindow:  # noqa: F811
    return _personalize(qtbot, window, album)


def _personalize(qtbot, app: MainWindow, folder: Path) -> MainWindow:
    """Open ``folder``, rate ten photos by keys and personalize "mine"; returns when the album is ranked."""
    timeout = TIMEOUT if isinstance(app.controller.runner, ImmediateTaskRunner) else THREAD_TIMEOUT
    open_album(qtbot, app, folder)
    rate_with_keys(qtbot, app, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    with qtbot.waitSignal(app.ranked, timeout=timeout):
        app.start_personalization("mine")
    qtbot.waitUntil(lambda: not app.is_busy(), timeout=timeout)
    return app


def _ranked_order(app: MainWindow, profile_id: int) -> list[int]:
    return [pid for pid, _ in sorted(app.library.scores(profile_id).items(), key=lambda kv: kv[1][1])]


def test_sliders_preview_apply_re_ranks_and_undo_restores(qtbot, personalized: MainWindow):
    app = personalized
    profile_id = app.current_profile_id()
    original = _ranked_order(app, profile_id)
    app.taste_action.trigger()
    panel = app.taste_panel
    assert panel.isVisible() and not panel.apply_button.isEnabled() and not panel.undo_button.isEnabled()
    tasks = panel.summary.tasks
    learned = panel.summary.overall.tolist()
    # Switch the strongest task off and double the weakest: the preview follows at once, before Apply.
    strongest = max(range(len(tasks)), key=learned.__getitem__)
    weakest = min(range(len(tasks)), key=learned.__getitem__)
    panel.sliders[tasks[strongest]].setValue(0)
    panel.sliders[tasks[weakest]].setValue(200)
    assert panel.percent_labels[tasks[strongest]].text() == "0 %"
    assert panel.bars[tasks[strongest]].toolTip() == f"{tasks[strongest]}, overall: {0.0:+.4f}"
    assert "preview" in panel.summary_label.text() and panel.apply_button.isEnabled()
    assert app.library.profile_version_count(profile_id) == 0  # nothing stored yet

    with qtbot.waitSignal(app.ranked, timeout=TIMEOUT):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert app.library.profile_version_count(profile_id) == 1
    shaped = Profile.from_bytes(app.library.profile_data(profile_id))
    assert float(shaped.alpha[strongest].abs().max()) == 0.0
    reshaped = _ranked_order(app, profile_id)
    assert reshaped != original  # the shaped taste ranks differently ...
    assert grid_ids(app)[: len(reshaped)] == reshaped  # ... and the grid shows it
    assert panel.undo_button.isEnabled() and not panel.busy
    assert panel.sliders[tasks[strongest]].value() == 100  # the panel now shows the stored version
    assert panel.summary.overall[strongest] == 0.0

    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert _ranked_order(app, profile_id) == original
    assert grid_ids(app)[: len(original)] == original
    assert not panel.undo_button.isEnabled() and panel.summary.overall.tolist() == pytest.approx(learned)


def test_blend_two_profiles_from_the_menu(qtbot, personalized: MainWindow, monkeypatch):
    app = personalized
    app.show_view(SortOrder.ALBUM)
    rate_with_keys(qtbot, app, ["1", "5", "2", "4", "3", "1", "5", "2", "4", "3"])
    with qtbot.waitSignal(app.ranked, timeout=TIMEOUT):
        app.start_personalization("reversed")
    assert app.blend_action.isEnabled()
    ids = {p.name: p.id for p in app.library.profiles()}

    dialog = BlendDialog([(ids["mine"], "mine"), (ids["reversed"], "reversed")], set(ids))
    qtbot.addWidget(dialog)
    assert dialog.name.text() == "mine 50/50 reversed"
    dialog.weight.setValue(70)
    assert dialog.name.text() == "mine 70/30 reversed" and "70 % “mine”" in dialog.weight_label.text()
    dialog.b_box.setCurrentIndex(0)
    assert dialog.problem.text() == "choose two different profiles"
    dialog.b_box.setCurrentIndex(1)
    dialog.name.setText("mine")
    assert "exists already" in dialog.problem.text()

    def accept(self):
        self.weight.setValue(25)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(BlendDialog, "exec", accept)
    with qtbot.waitSignal(app.ranked, timeout=TIMEOUT) as ranked:
        app.blend_action.trigger()
    blended_id = ranked.args[0]
    assert app.profile_box.currentText() == "mine 25/75 reversed"
    alpha = {name: Profile.from_bytes(app.library.profile_data(pid)).alpha for name, pid in ids.items()}
    blended = Profile.from_bytes(app.library.profile_data(blended_id)).alpha
    assert blended.allclose(0.25 * alpha["mine"] + 0.75 * alpha["reversed"])
    assert len(app.library.scores(blended_id)) == 30


def test_export_and_import_profile_files_and_refuse_another_bundle(qtbot, personalized, tmp_path, monkeypatch):
    app = personalized
    target = tmp_path / "shared" / "mine.profile"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    app.export_profile_action.trigger()
    exported = Profile.load(target)
    assert exported.name == "mine" and "written" in app.statusBar().currentMessage()

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(app.ranked, timeout=TIMEOUT):
        app.import_profile_action.trigger()
    assert app.profile_box.currentText() == "mine (imported)"
    assert len(app.library.scores(app.current_profile_id())) == 30

    exported.bundle_id = "f" * 64
    foreign = tmp_path / "shared" / "foreign.profile"
    exported.save(foreign)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(foreign), ""))
    with qtbot.waitSignal(app.task_failed, timeout=TIMEOUT):
        app.import_profile_action.trigger()
    assert "made for another model bundle" in app.error_box.text()
    assert len(app.library.profiles()) == 2  # nothing was added


def test_hidden_gems_filter_shows_what_the_plain_average_misses(qtbot, personalized: MainWindow):
    app = personalized
    profile_id = app.current_profile_id()
    with qtbot.waitSignal(app.controller.gems_found, timeout=TIMEOUT) as found:
        app.filter_box.setCurrentIndex(app.filter_box.findData(Filter.HIDDEN_GEMS))
    gems = found.args[1]
    reference = app.library.reference_scores(app.controller.model().bundle.bundle_id)
    assert len(reference) == 30
    assert gems == profile_editing.hidden_gems(app.library.scores(profile_id), reference)
    assert set(grid_ids(app)) == gems
    assert "hidden gem" in app.statusBar().currentMessage()
    # Choosing the filter again needs no model work: the plain average's scores are kept.
    app.show_view(SortOrder.SCORE, Filter.ALL)
    app.show_view(SortOrder.SCORE, Filter.HIDDEN_GEMS)
    assert not app.is_busy() and set(grid_ids(app)) == gems


def test_hidden_gems_follow_a_shaped_profile(qtbot, personalized):
    app = personalized
    profile_id = app.current_profile_id()
    with qtbot.waitSignal(app.controller.gems_found, timeout=TIMEOUT):
        app.show_view(SortOrder.SCORE, Filter.HIDDEN_GEMS)
    task = app.controller.model().bundle.task_names[0]
    with qtbot.waitSignal(app.controller.gems_found, timeout=TIMEOUT) as again:  # the new version's gems
        app.controller.reshape_profile(profile_id, {task: 0.0})
    reference = app.library.reference_scores(app.controller.model().bundle.bundle_id)
    assert again.args[1] == profile_editing.hidden_gems(app.library.scores(profile_id), reference)
    assert set(grid_ids(app)) == again.args[1]


def test_apply_runs_off_the_ui_thread_and_the_panel_waits_for_it(qtbot, threaded_window, album):  # noqa: F811
    app = _personalize(qtbot, threaded_window, album)
    app.taste_action.trigger()
    panel = app.taste_panel
    panel.sliders[panel.summary.tasks[0]].setValue(250)
    with qtbot.waitSignal(app.ranked, timeout=THREAD_TIMEOUT):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
        assert (
            panel.busy and not panel.apply_button.isEnabled() and not panel.sliders[panel.summary.tasks[0]].isEnabled()
        )
    qtbot.waitUntil(lambda: not panel.busy, timeout=THREAD_TIMEOUT)
    assert panel.undo_button.isEnabled() and panel.sliders[panel.summary.tasks[0]].value() == 100
    assert app.library.profile_version_count(app.current_profile_id()) == 1


def test_hidden_gems_picked_while_a_task_runs_are_found_when_it_ends_without_a_busy_box(
    qtbot,
    threaded_window,  # noqa: F811
    album,  # noqa: F811
):
    import threading

    app = _personalize(qtbot, threaded_window, album)
    release = threading.Event()
    assert app.controller.run("slow", lambda progress, cancel: release.wait(THREAD_TIMEOUT / 1000), lambda _: None)
    with qtbot.assertNotEmitted(app.controller.failed):  # before: "Busy: wait for “slow” to finish"
        app.show_view(SortOrder.SCORE, Filter.HIDDEN_GEMS)
    assert app.controller.task.name == "slow" and app.model.hidden_gems[0] is None
    with qtbot.waitSignal(app.controller.gems_found, timeout=THREAD_TIMEOUT) as found:
        release.set()
    assert found.args[0] == app.current_profile_id() and set(grid_ids(app)) == found.args[1]
    assert "hidden gem" in app.statusBar().currentMessage()


def test_a_new_album_is_ranked_with_a_profile_taught_in_another(qtbot, personalized, tmp_path, monkeypatch):
    app = personalized
    taught = app.library.album
    taught_alpha = Profile.from_bytes(app.library.profile_data(app.current_profile_id())).alpha
    shoot = tmp_path / "new shoot"
    shoot.mkdir()
    for index, photo in enumerate(synthetic_photos(8, 64, seed=5)):
        photo.save(shoot / f"DSC_{index:04d}.jpg", quality=90)
    open_album(qtbot, app, shoot)
    assert app.profile_box.currentText() == "(none yet)"
    assert "your profile “mine” from album can rank it now" in app.statusBar().currentMessage()

    def choose_mine(dialog):
        rows = [dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())]
        mine = next(row for row in rows if dialog._profiles[row.data(0, Qt.ItemDataRole.UserRole)].album == taught)
        assert mine.text(0) == "mine" and mine.text(1) == "album"
        assert mine.text(3).startswith("learned from 10 ratings; predicted ")
        dialog.tree.setCurrentItem(mine)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ProfilesElsewhereDialog, "exec", choose_mine)
    with qtbot.waitSignal(app.ranked, timeout=TIMEOUT):
        app.profile_elsewhere_action.trigger()
    assert app.profile_box.currentText() == "mine"
    assert torch.equal(Profile.from_bytes(app.library.profile_data(app.current_profile_id())).alpha, taught_alpha)
    assert len(app.library.scores(app.current_profile_id())) == 8
    assert grid_ids(app) == _ranked_order(app, app.current_profile_id())  # the grid shows the new ranking
    assert "predicts" not in app.statusBar().currentMessage()  # what it predicted was the other album's answers
    details = app.profile_box.toolTip()
    assert "“mine”: brought from album “album”, where it learned from 10 ratings" in details
    assert "there it predicts" in details


def test_the_dialog_offers_only_profiles_of_the_model_in_use(qtbot, tmp_path):
    def found(name: str, bundle_id: str) -> ProfileElsewhere:
        return ProfileElsewhere(tmp_path / "x.sqlite3", tmp_path / "gone", 1, name, bundle_id, {"k": 12}, 0.0)

    dialog = ProfilesElsewhereDialog([found("theirs", "a" * 64), found("mine", "b" * 64)], "b" * 64)
    qtbot.addWidget(dialog)
    other, usable = dialog.tree.topLevelItem(0), dialog.tree.topLevelItem(1)
    assert other.isDisabled() and "another model" in other.toolTip(0)
    assert usable.text(1) == "gone (folder not found)" and usable.text(3) == "learned from 12 photos"
    assert dialog.choice().name == "mine" and dialog.use_button.isEnabled()  # the first usable row is chosen
    dialog.tree.setCurrentItem(other)  # a greyed row cannot be chosen
    assert dialog.choice().name == "mine"
    only_others = ProfilesElsewhereDialog([found("theirs", "a" * 64)], "b" * 64)
    qtbot.addWidget(only_others)
    assert only_others.choice() is None and not only_others.use_button.isEnabled()


def test_learn_from_all_my_albums_adds_the_other_albums_answers(qtbot, window, album, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AESTHETIC_CURATOR_DATA_DIR", str(tmp_path / "own data"))  # only this test's albums
    app = _personalize(qtbot, window, album)  # 10 ratings in the first album
    shoot = tmp_path / "new shoot"
    shoot.mkdir()
    for index, photo in enumerate(synthetic_photos(12, 64, seed=6)):
        photo.save(shoot / f"DSC_{index:04d}.jpg", quality=90)
    assert not app.preferences.learn_everywhere and not app.learn_everywhere_action.isChecked()
    app.learn_everywhere_action.trigger()
    assert app.preferences.learn_everywhere  # kept between runs
    _personalize(qtbot, app, shoot)
    details = app.profile_box.toolTip()
    assert "“mine”: learned from 10 ratings, and 10 ratings in 1 other album" in details
    stored = next(p for p in app.library.profiles() if p.id == app.current_profile_id())
    assert stored.metadata["k"] == 20 and stored.metadata["elsewhere"]["albums"] == 1
