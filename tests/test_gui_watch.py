"""Photos copied into an open album appear by themselves (the folder is watched), and File → Refresh Folder."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from aesthetic_curator.gui import folder_watch, window_watch
from aesthetic_curator.gui.folder_watch import AlbumWatcher
from aesthetic_curator.gui.main_window import MainWindow
from aesthetic_curator.gui.photo_model import Filter
from aesthetic_curator.library import scanner
from tests.test_gui import album, grid_ids, open_album, rate_with_keys, window  # noqa: F401  (fixtures)


@pytest.fixture
def quick(monkeypatch):
    """The watcher's waits shortened, so a test sees a settled change in well under a second."""
    monkeypatch.setattr(folder_watch, "QUIET_MS", 150)
    monkeypatch.setattr(folder_watch, "RECHECK_MS", 200)
    monkeypatch.setattr(folder_watch, "LONGEST_WAIT_S", 0.5)


def test_the_watcher_speaks_once_changes_pause_and_only_for_photos_and_folders(qtbot, tmp_path, quick):
    (tmp_path / "day1").mkdir()
    (tmp_path / ".cache").mkdir()
    (tmp_path / "day1" / "a.jpg").write_bytes(b"x")
    watcher = AlbumWatcher()
    watcher.watch(tmp_path)
    assert sorted(p.name for p in watcher.folders) == ["day1", tmp_path.name]  # hidden folders left out
    with qtbot.assertNotEmitted(watcher.changed, wait=600):
        (tmp_path / "day1" / "a.jpg.xmp").write_text("<x/>")  # a sidecar, a temporary file, a photo's content
        (tmp_path / "day1" / ".a.jpg.part").write_bytes(b"x")
        (tmp_path / "day1" / "a.jpg").write_bytes(b"xy")
    with qtbot.waitSignal(watcher.changed, timeout=3000):
        for index in range(3):  # a burst of copies: one signal once they pause
            (tmp_path / "day1" / f"new{index}.JPG").write_bytes(b"x")
            qtbot.wait(50)
    with qtbot.assertNotEmitted(watcher.changed, wait=500):
        pass
    asked: list[float] = []  # a long import (a file every 50 ms): scans are asked for while it goes on
    watcher.changed.connect(lambda: asked.append(time.monotonic()))
    started, index = time.monotonic(), 0
    while time.monotonic() - started < 1.5:
        (tmp_path / "day1" / f"import{index}.JPG").write_bytes(b"x")
        index += 1
        qtbot.wait(50)
    qtbot.wait(400)
    assert asked and asked[0] - started < 1.2 and asked[-1] > started + 1.5  # and once more at its end
    watcher.changed.disconnect()
    with qtbot.waitSignal(watcher.changed, timeout=3000):  # a new folder: watched from then on
        (tmp_path / "day2").mkdir()
    assert tmp_path / "day2" in watcher.folders
    with qtbot.waitSignal(watcher.changed, timeout=3000):
        (tmp_path / "day2" / "b.nef").write_bytes(b"x")
    with qtbot.waitSignal(watcher.changed, timeout=3000):  # a folder taken away
        shutil.rmtree(tmp_path / "day2")
    assert tmp_path / "day2" not in watcher.folders
    watcher.stop()
    assert watcher.folders == [] and watcher.root is None
    with qtbot.assertNotEmitted(watcher.changed, wait=500):
        (tmp_path / "day1" / "after.jpg").write_bytes(b"x")


def test_the_watcher_stops_at_its_folder_limit_and_watches_a_linked_folder_once(qtbot, tmp_path, monkeypatch):
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
    (tmp_path / "a" / "loop").symlink_to(tmp_path)  # the album again, through a link
    watcher = AlbumWatcher()
    watcher.watch(tmp_path)
    assert sorted(watcher.folders) == [tmp_path] + [tmp_path / name for name in "abcd"] and not watcher.incomplete
    monkeypatch.setattr(folder_watch, "MAX_WATCHED_FOLDERS", 3)
    watcher.watch(tmp_path)
    assert len(watcher.folders) == 3 and watcher.incomplete


def test_photos_copied_into_the_open_album_appear_when_the_copy_settles(qtbot, window, album, quick, monkeypatch):  # noqa: F811
    copying: set[str] = set()  # the files a copy is still writing (the scanner's rule is tested in test_library_scan)
    monkeypatch.setattr(scanner, "_still_written", lambda paths, *_: any(p.name in copying for p in paths))
    open_album(qtbot, window, album)
    before = set(grid_ids(window))
    assert album in window.watcher.folders and album / "day1" in window.watcher.folders
    scans = []
    window.controller.scanned.connect(scans.append)
    copying.update({"IMG_0100.jpg", "IMG_0101.jpg"})
    with qtbot.assertNotEmitted(window.album_loaded), qtbot.waitSignal(window.controller.scanned, timeout=5000):
        shutil.copy(album / "day1" / "IMG_0000.jpg", album / "day2" / "IMG_0100.jpg")  # a card import
        (album / "day3").mkdir()
        shutil.copy(album / "day1" / "IMG_0001.jpg", album / "day3" / "IMG_0101.jpg")
    assert sorted(scans[0].scan.unsettled) == ["day2/IMG_0100.jpg", "day3/IMG_0101.jpg"]
    assert set(grid_ids(window)) == before  # nothing half-written is shown, nothing is reloaded

    copying.clear()  # the copy ended: no event says so, the watcher looks again by the clock
    with qtbot.waitSignal(window.album_loaded, timeout=5000):
        pass
    assert len(set(grid_ids(window)) - before) == 2 and "2 new" in window.statusBar().currentMessage()
    assert album / "day3" in window.watcher.folders

    with qtbot.assertNotEmitted(window.album_loaded, wait=800):
        (album / "day1" / "IMG_0000.jpg.xmp").write_text("<x/>")  # the app's own sidecars set nothing off
    scanned = len(scans)
    with qtbot.assertNotEmitted(window.album_loaded):
        window.refresh_action.trigger()
    assert len(scans) == scanned + 1 and window.statusBar().currentMessage() == "No new, changed or missing photos"

    with qtbot.waitSignal(window.album_loaded, timeout=5000):
        (album / "day3" / "IMG_0101.jpg").unlink()
    assert "1 missing" in window.statusBar().currentMessage()


def test_refresh_finds_what_an_unwatched_folder_gained(qtbot, window: MainWindow, album: Path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(window_watch, "SETTLE_SECONDS", 0.3)
    open_album(qtbot, window, album)
    window.watcher.blockSignals(True)  # as on a share the system cannot watch: only F5 finds what changed
    shutil.copy(album / "day1" / "IMG_0000.jpg", album / "day1" / "copy.jpg")
    time.sleep(0.4)
    with qtbot.waitSignal(window.album_loaded, timeout=5000):
        window.refresh_action.trigger()
    assert "1 new" in window.statusBar().currentMessage()


def test_a_reload_reuses_its_paths_only_within_one_album(qtbot, window: MainWindow, album: Path, tmp_path):  # noqa: F811
    twin = tmp_path / "twin"
    shutil.copytree(album, twin)  # the same names (and, in a fresh library, the same photo ids)
    open_album(qtbot, window, album)
    window._reload_model()
    assert all(item.path.is_relative_to(album) for item in window.model.all_items())
    open_album(qtbot, window, twin)
    paths = [item.path for item in window.model.all_items()]
    assert paths and all(path.is_relative_to(twin) for path in paths)


def test_photos_copied_in_after_ranking_take_their_place_in_it(qtbot, window, album, quick, monkeypatch):  # noqa: F811
    monkeypatch.setattr(scanner, "_still_written", lambda *_: False)  # each copy done at once
    open_album(qtbot, window, album)
    rate_with_keys(qtbot, window, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    with qtbot.waitSignal(window.ranked, timeout=5000) as ranked:
        window.start_personalization("mine")
    profile_id = ranked.args[0]
    window.filter_box.setCurrentIndex(window.filter_box.findData(Filter.RATED))  # the user's view stays as set
    window.grid.setCurrentIndex(window.model.index(4))
    rating = window.current_item().id  # the photo the user is on
    with qtbot.waitSignal(window.controller.new_photos_ranked, timeout=5000) as fitted:
        shutil.copy(album / "day1" / "IMG_0003.jpg", album / "day2" / "NEW_0001.jpg")
    assert fitted.args[0].ranked == 1
    assert window.current_item().id == rating  # the grid re-sorted under the user, who stays on their photo
    scores = window.library.scores(profile_id)
    assert len(scores) == 31 and sorted(rank for _, rank in scores.values()) == list(range(1, 32))
    new = next(item for item in window.model.all_items() if item.path.name == "NEW_0001.jpg")
    assert (new.score, new.rank) == scores[new.id]
    assert window.statusBar().currentMessage() == f"day2/NEW_0001.jpg ranks #{new.rank} of 31 with “mine”"
    assert window.filter_box.currentData() is Filter.RATED
    with qtbot.waitSignal(window.controller.new_photos_ranked, timeout=5000):  # a card error: said, not a crash
        (album / "day2" / "CARD_ERROR.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    assert window.statusBar().currentMessage() == "1 new photo(s) unreadable, skipped"

    with qtbot.waitSignal(window.ranked, timeout=5000) as ranked:  # a second profile; a photo arrives under it
        window.start_personalization("other")
    other_id = ranked.args[0]
    with qtbot.waitSignal(window.controller.new_photos_ranked, timeout=5000):
        shutil.copy(album / "day1" / "IMG_0004.jpg", album / "day2" / "NEW_0002.jpg")
    assert len(window.library.scores(other_id)) == 32 and len(window.library.scores(profile_id)) == 31
    assert window.library.scored_elsewhere(profile_id) == [max(window.library.scores(other_id))]
    window.grid.setCurrentIndex(window.model.index(2))
    rating = window.current_item().id
    with qtbot.waitSignal(window.controller.new_photos_ranked, timeout=5000) as fitted:  # back to the first
        window.profile_box.setCurrentIndex(window.profile_box.findText("mine"))
    assert window.current_item().id == rating  # switching profiles re-sorts; the user stays on their photo
    assert fitted.args[0].ranked == 1 and len(window.library.scores(profile_id)) == 32
    assert window.library.scored_elsewhere(profile_id) == []
    assert all(item.score is not None for item in window.model.all_items() if item.path.name.startswith("NEW_"))

    with qtbot.waitSignal(window.controller.gems_found, timeout=5000):  # the hidden gems, shown as photos arrive
        window.filter_box.setCurrentIndex(window.filter_box.findData(Filter.HIDDEN_GEMS))
    with qtbot.waitSignal(window.controller.gems_found, timeout=5000) as gems:  # found again with the new photo
        shutil.copy(album / "day1" / "IMG_0005.jpg", album / "day2" / "NEW_0003.jpg")
    new = next(item.id for item in window.model.all_items() if item.path.name == "NEW_0003.jpg")
    plain = window.library.reference_scores(window.controller.model().bundle.bundle_id)
    assert gems.args[0] == profile_id and new in plain and len(plain) == 33  # the plain average fitted it in


def test_an_album_whose_drive_goes_away_is_kept_and_watched_again_when_back(qtbot, window, album, quick, monkeypatch):  # noqa: F811
    monkeypatch.setattr(scanner, "_still_written", lambda *_: False)
    open_album(qtbot, window, album)
    before = set(grid_ids(window))
    away = album.parent / "elsewhere" / "unplugged"  # not a rename in place, which the window follows
    away.parent.mkdir()
    album.rename(away)  # the card taken out
    with qtbot.waitSignal(window.controller.failed, timeout=5000) as failed:
        window.refresh_action.trigger()
    assert "cannot be reached" in failed.args[1] and set(grid_ids(window)) == before  # nothing marked missing
    away.rename(album)
    window.refresh_action.trigger()  # back: F5 (or reopening) finds everything as it was
    assert window.statusBar().currentMessage() == "No new, changed or missing photos"
    with qtbot.waitSignal(window.album_loaded, timeout=5000):  # and it is watched as before
        shutil.copy(album / "day1" / "IMG_0000.jpg", album / "day1" / "again.jpg")
    assert "1 new" in window.statusBar().currentMessage()


def test_the_watcher_watches_its_album_again_once_its_folder_is_back(qtbot, tmp_path, quick):
    root = tmp_path / "root"
    (root / "day1").mkdir(parents=True)
    watcher = AlbumWatcher()
    watcher.watch(root)
    (tmp_path / "elsewhere").mkdir()
    root.rename(tmp_path / "elsewhere" / "away")
    with qtbot.waitSignal(watcher.changed, timeout=3000):
        watcher._folder_changed(str(root))  # what Qt reports when a watched folder's file system goes away
    assert root not in watcher.folders
    (tmp_path / "elsewhere" / "away").rename(root)
    watcher.ensure_watched()  # after the next scan that could read it
    assert sorted(watcher.folders) == [root, root / "day1"]


def test_the_watcher_says_where_its_album_was_renamed_to(qtbot, tmp_path, quick):
    root = tmp_path / "2026-12-07"
    (root / "day1").mkdir(parents=True)
    watcher = AlbumWatcher()
    watcher.watch(root)
    with qtbot.assertNotEmitted(watcher.moved, wait=300):
        (tmp_path / "another album").mkdir()  # its parent changes for other reasons too
    with qtbot.waitSignal(watcher.moved, timeout=3000) as moved:
        root.rename(tmp_path / "2026-12-07 Smith wedding")  # as a file manager renames it
    assert moved.args[0] == tmp_path / "2026-12-07 Smith wedding" and watcher.folders == []


def test_an_album_renamed_while_open_is_followed_with_its_ratings(qtbot, window, album, quick, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AESTHETIC_CURATOR_DATA_DIR", str(tmp_path / "data"))  # its old library: not other tests'
    open_album(qtbot, window, album)
    window.grid.setCurrentIndex(window.model.index(5))
    rated = window.current_item().photo.relpath
    qtbot.keyClick(window.grid, "4")
    with qtbot.waitSignal(window.album_loaded, timeout=5000):
        album.rename(tmp_path / "album, culled")
    assert window.library.album == (tmp_path / "album, culled").resolve()
    assert window.windowTitle().startswith("album, culled")
    assert "kept from" in window.statusBar().currentMessage()
    assert window.current_item().photo.relpath == rated and window.current_item().stars == 4
    assert set(window.watcher.folders) >= {(tmp_path / "album, culled").resolve()}  # watched at its new place


def test_reopening_with_new_photos_fits_them_off_the_ui_thread(qtbot, tmp_path, album, test_bundle, monkeypatch):  # noqa: F811
    from aesthetic_curator.gui import controller
    from aesthetic_curator.gui.tasks import TaskRunner
    from tests.test_gui import THREAD_TIMEOUT, _make_window, record_model_opening

    first = _make_window(qtbot, tmp_path, test_bundle, TaskRunner())
    open_album(qtbot, first, album)
    rate_with_keys(qtbot, first, ["5", "1", "4", "2", "3", "5", "1", "4", "2", "3"])
    with qtbot.waitSignal(first.ranked, timeout=THREAD_TIMEOUT):
        first.start_personalization("mine")
    qtbot.waitUntil(lambda: not first.is_busy(), timeout=THREAD_TIMEOUT)
    first.close()
    shutil.copy(album / "day1" / "IMG_0003.jpg", album / "day2" / "NEW_0001.jpg")  # while the app was closed

    opened_on_ui_thread = record_model_opening(monkeypatch)
    monkeypatch.setattr(controller.AlbumController, "preload_model", lambda self: None)  # the fit opens it itself
    again = _make_window(qtbot, tmp_path, test_bundle, TaskRunner())
    with qtbot.waitSignal(again.controller.new_photos_ranked, timeout=THREAD_TIMEOUT) as fitted:
        again.open_album(album)
    assert fitted.args[0].ranked == 1 and opened_on_ui_thread == [False]
    qtbot.waitUntil(lambda: not again.is_busy(), timeout=THREAD_TIMEOUT)
    again.close()


def test_new_photos_are_shown_as_they_arrive_when_asked(qtbot, window: MainWindow, album: Path, quick, monkeypatch):  # noqa: F811
    """File → Show New Photos as They Arrive (shooting tethered): each re-scan selects the newest photo it found,
    in the loupe too; off, the selection stays where the user is."""
    monkeypatch.setattr(scanner, "_still_written", lambda *_: False)  # each copy done at once
    open_album(qtbot, window, album)
    window.grid.setCurrentIndex(window.model.index(2))
    staying = window.current_item().id
    with qtbot.waitSignal(window.album_loaded, timeout=5000):
        shutil.copy(album / "day1" / "IMG_0003.jpg", album / "day2" / "TETHER_0001.jpg")
    assert window.current_item().id == staying  # off (the default): the user's place is kept

    window.follow_new_action.trigger()
    assert window.preferences.show_new_photos  # kept between runs
    window.open_loupe()
    with qtbot.waitSignal(window.album_loaded, timeout=5000):
        for n, source in enumerate(("IMG_0004.jpg", "IMG_0005.jpg")):
            shutil.copy(album / "day1" / source, album / "day2" / f"TETHER_{n + 2:04d}.jpg")
            os.utime(album / "day2" / f"TETHER_{n + 2:04d}.jpg", ns=(10**18 * (2 - n), 10**18 * (2 - n)))
    assert window.current_item().photo.relpath == "day2/TETHER_0002.jpg"  # the newest by its file time
    assert window.loupe.isVisible() and window.loupe._item.id == window.current_item().id
