"""The desktop app, driven like a user: open an album, rate with keys, personalize, rank, export.

Everything runs offscreen (QT_QPA_PLATFORM=offscreen, set in conftest) with the session's test
bundle and the real worker threads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.gui.photo_model import PHOTO_ROLE, Filter, SortOrder
from aesthetic_curator.gui.preferences import Preferences
from aesthetic_curator.library.export import read_ranking_csv

TIMEOUT = 120_000  # ms; personalization + ranking of the tiny bundle take a few seconds


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """30 synthetic JPEGs in two folders, plus one corrupt file that must be reported, not crash."""
    root = tmp_path / "album"
    for index, photo in enumerate(synthetic_photos(30, 64, seed=77)):
        folder = root / ("day1" if index < 15 else "day2")
        folder.mkdir(parents=True, exist_ok=True)
        photo.save(folder / f"IMG_{index:04d}.jpg", quality=90)
    (root / "day2" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture
def window(qtbot, tmp_path: Path, test_bundle):
    preferences = Preferences(tmp_path / "settings.ini")
    preferences.bundle_path = test_bundle.path
    preferences.device = "cpu"
    main = MainWindow(preferences)
    qtbot.addWidget(main)
    main.show()
    yield main
    if main.is_busy():
        main.cancel_task(wait=True)


def open_album(qtbot, window: MainWindow, album: Path) -> None:
    with qtbot.waitSignal(window.album_loaded, timeout=TIMEOUT):
        window.open_album(album)
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=TIMEOUT)


def grid_ids(window: MainWindow) -> list[int]:
    return [window.model.index(row).data(PHOTO_ROLE).id for row in range(window.model.rowCount())]


def rate_with_keys(qtbot, window: MainWindow, stars_by_row: list[str]) -> None:
    """Select each photo with the arrow keys and press its rating key, as a user would."""
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    for row, key in enumerate(stars_by_row):
        assert window.grid.currentIndex().row() == row
        qtbot.keyClick(window.grid, key)
        qtbot.keyClick(window.grid, Qt.Key.Key_Right)


def test_open_rate_personalize_rank_export(qtbot, window: MainWindow, album: Path, tmp_path: Path):
    open_album(qtbot, window, album)
    assert window.model.rowCount() == 31  # the corrupt file is listed (its thumbnail shows it cannot be read)
    assert not window.personalize_action.isEnabled()

    keys = ["5", "1", "4", "2", "3", "x", "5", "1", "4", "2", "3", "1"]
    rate_with_keys(qtbot, window, keys)
    ratings = window.library.ratings()
    assert len(ratings) == 12
    first = window.model.index(0).data(PHOTO_ROLE)
    assert ratings[first.id].stars == 5 and first.stars == 5
    rejected = window.model.index(5).data(PHOTO_ROLE)
    assert ratings[rejected.id].flag == -1
    assert window.personalize_action.isEnabled()
    assert "ready to personalize" in window.counter_label.text()

    with qtbot.waitSignal(window.ranked, timeout=TIMEOUT) as ranked:
        window.start_personalization("portraits")
    profile_id = ranked.args[0]
    assert window.profile_box.currentText() == "portraits"
    assert window.library.profiles()[0].metadata["solver"] == "fast"  # the default solver reached the worker

    scores = window.library.scores(profile_id)
    assert len(scores) == 30  # every readable photo; the broken one is skipped
    expected = [pid for pid, _ in sorted(scores.items(), key=lambda kv: kv[1][1])]
    assert window.sort_box.currentData() is SortOrder.SCORE
    assert grid_ids(window)[:30] == expected

    window.show_view(SortOrder.SCORE, Filter.TOP_N, 5)
    assert grid_ids(window) == expected[:5]

    from aesthetic_curator.gui.export_dialog import ExportChoice

    dest = tmp_path / "best"
    choice = ExportChoice(True, 5, None, None, dest, "copy", write_xmp=True)
    with qtbot.waitSignal(window.exported, timeout=TIMEOUT) as exported:
        window.start_export(choice)
    assert exported.args[0].written == 5
    ranking = read_ranking_csv(dest / "ranking.csv")
    photos = {p.id: p for p in window.library.photos()}
    assert [r.relpath for r in ranking] == [Path(photos[pid].relpath).name for pid in expected[:5]]
    assert len(list(dest.glob("*.jpg"))) == 5
    assert len(list(dest.glob("*.xmp"))) == 5
    assert "Exported 5" in window.info_box.text()


def test_switching_profiles_resorts_without_model_work(qtbot, window: MainWindow, album: Path):
    open_album(qtbot, window, album)
    rate_with_keys(qtbot, window, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    with qtbot.waitSignal(window.ranked, timeout=TIMEOUT):
        window.start_personalization("first")
    first_order = grid_ids(window)
    window.grid.setCurrentIndex(window.model.index(0))
    # Reverse taste: the worst of the first profile gets 5 stars now.
    window.show_view(SortOrder.ALBUM)
    rate_with_keys(qtbot, window, ["1", "5", "2", "4", "3", "1", "5", "2", "4", "3"])
    window.preferences.solver = "paper"  # the solver chosen in Model Setup reaches the worker
    with qtbot.waitSignal(window.ranked, timeout=TIMEOUT):
        window.start_personalization("second")
    assert {p.name: p.metadata["solver"] for p in window.library.profiles()} == {"first": "fast", "second": "paper"}
    second_order = grid_ids(window)
    assert [window.profile_box.itemText(i) for i in range(window.profile_box.count())] == ["first", "second"]
    window.profile_box.setCurrentIndex(window.profile_box.findText("first"))
    assert not window.is_busy()  # switching started no work ...
    assert grid_ids(window) == first_order  # ... and re-sorted at once
    window.profile_box.setCurrentIndex(window.profile_box.findText("second"))
    assert grid_ids(window) == second_order


def test_cancel_personalization(qtbot, window: MainWindow, album: Path):
    window.preferences.solver = "paper"  # 500 steps: long enough to cancel in the middle
    open_album(qtbot, window, album)
    rate_with_keys(qtbot, window, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    seen = []

    def training(progress) -> None:
        seen.append(progress)

    with qtbot.waitSignal(window.personalized, timeout=2000, raising=False) as finished:
        window.start_personalization("never")
        qtbot.waitUntil(lambda: window.task is not None and window.task.name == "personalize", timeout=TIMEOUT)
        window.task.progress.connect(training)
        qtbot.waitUntil(lambda: any(p.stage == "training" for p in seen), timeout=TIMEOUT)
        task = window.task
        with qtbot.waitSignal(task.done, timeout=1000):  # stops within a second
            qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert not finished.signal_triggered
    assert window.library.profiles() == []
    assert not window.is_busy()
    assert window.personalize_action.isEnabled()


def test_worker_error_is_shown_not_raised(qtbot, window: MainWindow, album: Path, tmp_path: Path, test_bundle):
    broken = tmp_path / "broken-bundle"
    shutil.copytree(test_bundle.path, broken)
    (broken / "manifest.json").write_text("{ not json", encoding="utf-8")
    window.preferences.bundle_path = broken
    open_album(qtbot, window, album)
    rate_with_keys(qtbot, window, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    with qtbot.waitSignal(window.task_failed, timeout=TIMEOUT) as failed:
        window.start_personalization("x")
    assert "manifest" in failed.args[0]
    assert window.error_box is not None and window.error_box.isVisible()
    assert "manifest" in window.error_box.text()
    assert not window.is_busy()


def test_loupe_rates_and_navigates(qtbot, window: MainWindow, album: Path):
    open_album(qtbot, window, album)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(3))
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert window.loupe is not None and window.loupe.isVisible()
    qtbot.keyClick(window.loupe, "4")
    qtbot.keyClick(window.loupe, Qt.Key.Key_Right)
    qtbot.keyClick(window.loupe, "p")
    ratings = window.library.ratings()
    assert ratings[window.model.index(3).data(PHOTO_ROLE).id].stars == 4
    assert ratings[window.model.index(4).data(PHOTO_ROLE).id].flag == 1
    qtbot.keyClick(window.loupe, Qt.Key.Key_Escape)
    assert not window.loupe.isVisible()


def test_suggest_and_preferences_persist(qtbot, window: MainWindow, album: Path, tmp_path: Path):
    open_album(qtbot, window, album)
    window.suggest_clicked()
    qtbot.waitUntil(lambda: window.filter_box.currentData() is Filter.SUGGESTED, timeout=TIMEOUT)
    assert window.model.rowCount() == 10
    assert len(set(grid_ids(window))) == 10
    window.close()
    again = Preferences(tmp_path / "settings.ini")
    assert again.last_folder == album.resolve()
    assert again.recent_folders[0] == album.resolve()
    geometry, _ = again.window_state()
    assert geometry is not None


def test_without_a_bundle_the_app_explains_and_star_export_works(qtbot, window: MainWindow, album: Path, tmp_path):
    window.preferences.bundle_path = None
    open_album(qtbot, window, album)
    rate_with_keys(qtbot, window, ["5", "4", "3"])
    window.personalize_clicked()
    assert window.error_box is not None and "No model bundle" in window.error_box.windowTitle()
    from aesthetic_curator.gui.export_dialog import ExportChoice

    dest = tmp_path / "starred"
    with qtbot.waitSignal(window.exported, timeout=TIMEOUT) as exported:
        window.start_export(ExportChoice(False, 2, None, None, dest, "copy", False))
    assert exported.args[0].written == 2
    names = [r.relpath for r in read_ranking_csv(dest / "ranking.csv")]
    first_two = [window.model.item_at(0), window.model.item_at(1)]
    assert names == [item.path.name for item in first_two]


def test_signals_keep_python_refcounts(qtbot):
    """PySide6 6.12.0 lost a reference to True per emit, which aborts Python 3.11 after a few hundred signals."""
    import sys

    from aesthetic_curator.gui.photo_model import PhotoListModel

    model = PhotoListModel()
    before = sys.getrefcount(True)
    for _ in range(200):
        model.layoutChanged.emit()
    assert sys.getrefcount(True) >= before - 5
