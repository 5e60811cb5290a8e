"""Bursts in the app, as a user meets them: stacks with the best photo on top, S to expand, the Show filter
and the export option, on made-up bursts of real photos."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from aesthetic_curator.gui.export_dialog import ExportChoice, ExportDialog
from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.gui.photo_model import PHOTO_ROLE, Filter, SortOrder
from tests.test_bursts import BASE_TIME, _exif, _variants
from tests.test_gui import (  # noqa: F401
    THREAD_TIMEOUT,
    TIMEOUT,
    grid_ids,
    open_album,
    rate_with_keys,
    threaded_window,
    window,
)


@pytest.fixture
def burst_folder(tmp_path: Path, livec: Path) -> Path:
    """Four 5-frame bursts (10 s apart) and eight single photos."""
    root = tmp_path / "trip"
    root.mkdir()
    sources = sorted((livec / "images").glob("*"))[:12]
    for n, source in enumerate(sources[:4]):
        image = Image.open(source).convert("RGB").resize((160, 160))
        for k, frame in enumerate([image, *_variants(image)]):
            stamp = f"2024:06:01 12:00:{10 * n:02d}"
            frame.save(root / f"burst{n}_{k}.jpg", quality=90, exif=_exif(stamp, f"{20 * k:02d}"))
    for n, source in enumerate(sources[4:]):
        Image.open(source).convert("RGB").resize((160, 160)).save(root / f"single{n}.jpg", exif=_exif(BASE_TIME))
    return root


def _tiles(app: MainWindow):
    return [app.model.index(row).data(PHOTO_ROLE) for row in range(app.model.rowCount())]


def test_stacks_show_the_best_frame_expand_with_s_and_export_keeps_one_per_burst(
    qtbot,
    window: MainWindow,  # noqa: F811
    burst_folder: Path,
    tmp_path: Path,
):
    app = window
    open_album(qtbot, app, burst_folder)
    assert app.model.rowCount() == 28
    with qtbot.waitSignal(app.controller.bursts_found, timeout=TIMEOUT) as found:
        app.stack_action.trigger()
    groups = found.args[0].bursts.groups
    names = {p.id: Path(p.relpath).name for p in app.library.photos()}
    assert sorted(sorted(names[pid][:6] for pid in g) for g in groups) == [[f"burst{n}"] * 5 for n in range(4)]
    tiles = _tiles(app)
    assert len(tiles) == 8 + 4 and sum(t.stacked for t in tiles) == 4
    assert all(t.burst_size == 5 for t in tiles if t.stacked)
    stacked = next(t for t in tiles if t.stacked)
    assert "burst of 5" in app.model.index(app.model.row_of(stacked.id)).data(Qt.ItemDataRole.ToolTipRole)

    # S shows the burst's photos, S again stacks them.
    app.select_photo(stacked.id)
    app.grid.setFocus()
    qtbot.keyClick(app.grid, Qt.Key.Key_S)
    assert app.model.rowCount() == 12 + 4
    qtbot.keyClick(app.grid, Qt.Key.Key_S)
    assert app.model.rowCount() == 12

    # C on a stack settles that burst: the candidate walks its five frames, in shooting order.
    app.candidates_action.trigger()
    frames = [item.id for item in app.survey.sequence]
    assert frames == app.model.bursts.members(stacked.id) and app.survey.items[0].id == stacked.id
    qtbot.keyClick(app.survey, Qt.Key.Key_Escape)

    # Rate and personalize: each stack's top is its best-ranked frame.
    app.show_view(SortOrder.ALBUM)
    app.stack_action.trigger()  # rate photo by photo
    assert not app.model.stack_bursts and app.model.rowCount() == 28
    rate_with_keys(qtbot, app, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3", "2", "4"])
    with qtbot.waitSignal(app.ranked, timeout=TIMEOUT) as ranked:
        app.start_personalization("mine")
    scores = app.library.scores(ranked.args[0])
    app.stack_action.trigger()
    assert app.model.stack_bursts and app.model.rowCount() == 12  # the bursts were kept: no new task
    for tile in _tiles(app):
        if tile.stacked:
            group = next(g for g in groups if tile.id in g)
            assert tile.id == min(group, key=lambda pid: scores[pid][1])
    assert grid_ids(app) == sorted(grid_ids(app), key=lambda pid: scores[pid][1])  # stacks sort by their best

    app.stack_action.trigger()
    app.show_view(SortOrder.SCORE, Filter.BEST_OF_BURSTS)
    best = set(grid_ids(app))
    assert len(best) == 12 and all(sum(pid in best for pid in g) == 1 for g in groups)

    dialog = ExportDialog("mine", tmp_path / "out")
    qtbot.addWidget(dialog)
    dialog.how.setCurrentIndex(1)
    dialog.amount.setValue(100)
    dialog.best_of_bursts.setChecked(True)
    choice = dialog.choice()
    assert choice == ExportChoice(True, None, 100.0, None, tmp_path / "out", "copy", False, best_of_bursts=True)
    with qtbot.waitSignal(app.exported, timeout=TIMEOUT) as exported:
        app.start_export(choice)
    assert exported.args[0].written == 12
    assert {p.name for p in (tmp_path / "out").glob("*.jpg")} == {names[pid] for pid in best}


def test_stacking_is_kept_between_runs_and_a_new_album_is_stacked_when_scanned(
    qtbot,
    window: MainWindow,  # noqa: F811
    burst_folder: Path,
):
    app = window
    assert not app.stack_action.isChecked()
    app.stack_action.trigger()  # no album yet: only the choice is kept
    assert app.preferences.stack_bursts
    later = MainWindow(app.preferences, app.controller.runner)  # the next launch
    qtbot.addWidget(later)
    assert later.stack_action.isChecked() and later.model.stack_bursts
    with qtbot.waitSignal(later.controller.bursts_found, timeout=TIMEOUT):
        open_album(qtbot, later, burst_folder)
    assert later.model.rowCount() == 12 and sum(t.stacked for t in _tiles(later)) == 4


def test_capture_time_sort_reads_the_times_once_and_puts_photos_in_shooting_order(
    qtbot,
    window: MainWindow,  # noqa: F811
    tmp_path: Path,
):
    """Two cameras' files named out of shooting order, one photo without EXIF (placed by its file time):
    Sort → Capture time reads each photo's time in the background, once; the next load knows them at once."""
    import os

    from aesthetic_curator.engine.synthetic import synthetic_photos
    from aesthetic_curator.gui.photo_model import PhotoListModel

    root = tmp_path / "two-cameras"
    root.mkdir()
    photos = synthetic_photos(5, 64, seed=3)
    shots = {"a_0001.jpg": "12:00:30", "a_0002.jpg": "12:00:50", "b_0001.jpg": "12:00:10", "b_0002.jpg": "12:00:40"}
    for photo, (name, clock) in zip(photos, shots.items(), strict=False):
        photo.save(root / name, quality=90, exif=_exif(f"2024:06:01 {clock}"))
    photos[4].save(root / "scan.jpg", quality=90)  # no EXIF: its file time, 12:00:20 that day, places it
    moment = 1717243220  # 2024-06-01 12:00:20 UTC, as EXIF times are read (bursts._parse_exif_time)
    os.utime(root / "scan.jpg", (moment, moment))
    open_album(qtbot, window, root)
    names = lambda app: [tile.path.name for tile in _tiles(app)]  # noqa: E731
    assert names(window) == ["a_0001.jpg", "a_0002.jpg", "b_0001.jpg", "b_0002.jpg", "scan.jpg"]
    with qtbot.waitSignal(window.controller.bursts_found, timeout=TIMEOUT):
        window.sort_box.setCurrentIndex(window.sort_box.findData(SortOrder.TAKEN))  # as picking it does
    shooting_order = ["b_0001.jpg", "scan.jpg", "a_0001.jpg", "b_0002.jpg", "a_0002.jpg"]
    assert names(window) == shooting_order
    message = window.statusBar().currentMessage()
    assert message == "sorted by the capture times of 5 photos; 1 without an EXIF time (placed by file time)"
    window.show_view(SortOrder.ALBUM)
    with qtbot.assertNotEmitted(window.controller.bursts_found):
        window.show_view(SortOrder.TAKEN)  # known now: nothing is read again
    assert names(window) == shooting_order
    again = PhotoListModel()
    again.load(window.library)  # the next launch: the times come from the library
    again.set_view(SortOrder.TAKEN, Filter.ALL)
    assert [again.index(row).data(PHOTO_ROLE).path.name for row in range(5)] == shooting_order


def test_capture_time_picked_while_a_task_runs_is_read_when_it_ends_without_a_busy_box(
    qtbot,
    threaded_window: MainWindow,  # noqa: F811
    burst_folder: Path,
):
    import threading

    app = threaded_window
    open_album(qtbot, app, burst_folder)
    release = threading.Event()
    assert app.controller.run("slow", lambda progress, cancel: release.wait(THREAD_TIMEOUT / 1000), lambda _: None)
    with qtbot.assertNotEmitted(app.controller.failed):  # before: "Busy: wait for “slow” to finish"
        app.show_view(SortOrder.TAKEN)
    assert app.is_busy() and app.model.needs_capture_times()
    with qtbot.waitSignal(app.controller.bursts_found, timeout=THREAD_TIMEOUT):
        release.set()
    assert not app.model.needs_capture_times()
    names, times = [tile.path.name for tile in _tiles(app)], [tile.taken for tile in _tiles(app)]
    assert times == sorted(times)
    assert names.index("burst0_4.jpg") < names.index("burst1_0.jpg") < names.index("burst3_4.jpg")


def test_reject_the_rest_keeps_what_the_user_chose_in_each_burst_as_one_undo_step(
    qtbot,
    window: MainWindow,  # noqa: F811
    burst_folder: Path,
):
    from aesthetic_curator.library.store import PICKED, REJECTED

    app = window
    open_album(qtbot, app, burst_folder)
    ids = {Path(p.relpath).stem: p.id for p in app.library.photos()}
    app.grid.setFocus()
    for name, key in (("burst0_2", "4"), ("burst0_4", "9"), ("burst1_1", "p"), ("burst2_0", "x")):  # burst 3: none
        app.select_photo(ids[name])
        qtbot.keyClick(app.grid, key)
    assert app.model.bursts is None  # not looked for yet: the action looks first, then rejects
    with qtbot.waitSignal(app.controller.bursts_found, timeout=TIMEOUT):
        app.reject_rest_action.trigger()
    flags = {pid: rating.flag for pid, rating in app.library.ratings().items()}
    rejected = {name for name, pid in ids.items() if flags.get(pid) == REJECTED}
    expected = {f"burst{n}_{k}" for n, kept in ((0, (2, 4)), (1, (1,))) for k in range(5) if k not in kept}
    assert rejected == expected | {"burst2_0"}  # burst 2's only reject says nothing about its best: left alone
    assert flags[ids["burst1_1"]] == PICKED and app.library.ratings()[ids["burst0_2"]].stars == 4
    assert "Rejected 7 photo(s)" in app.statusBar().currentMessage()
    assert "2 burst(s) left alone" in app.statusBar().currentMessage()

    app.undo_rating_action.trigger()  # one step: all seven come back
    flags = {pid: rating.flag for pid, rating in app.library.ratings().items()}
    assert [name for name, pid in ids.items() if flags.get(pid) == REJECTED] == ["burst2_0"]
