"""An album folder moved or renamed keeps its library: ratings, labels, comparisons and profiles come along."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.library import moved_album
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.store import PICKED, Library, library_path_for


@pytest.fixture
def data(tmp_path: Path, monkeypatch) -> Path:
    """A data folder of this test's own: libraries of other tests' albums are not candidates."""
    monkeypatch.setenv("AESTHETIC_CURATOR_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _rated_album(root: Path, count: int = 12, seed: int = 5) -> Path:
    """An album with a library: stars, a pick, a label and a comparison."""
    root.mkdir(parents=True)
    for index, photo in enumerate(synthetic_photos(count, 48, seed=seed)):
        photo.save(root / f"IMG_{index:04d}.jpg", quality=90)
    with Library.open_for_album(root) as library:
        index_album(library)
        photos = library.photos()
        library.set_rating(photos[0].id, stars=5, flag=PICKED)
        library.set_rating(photos[1].id, stars=2)
        library.set_label(photos[2].id, "green")
        library.add_comparison(photos[3].id, photos[4].id, "a")
    return root


def _judgements(library: Library) -> tuple:
    by_id = {p.id: p.relpath for p in library.photos()}
    ratings = sorted((by_id[pid], r.stars, r.flag) for pid, r in library.ratings().items())
    comparisons = [(by_id[c.photo_a], by_id[c.photo_b], c.outcome) for c in library.comparisons()]
    return ratings, comparisons, sorted(by_id[pid] for pid in library.labels())


def test_a_renamed_album_keeps_its_library_and_the_old_one_stays(data: Path, tmp_path: Path):
    album = _rated_album(tmp_path / "2026-12-07")
    with Library.open_for_album(album) as library:
        before = _judgements(library)
        assert library.carried_from is None
    renamed = album.rename(tmp_path / "Smith wedding")  # its library sorts after the old one
    with Library.open_for_album(renamed) as library:
        assert library.carried_from == album
        assert _judgements(library) == before and before[0]  # stars, picks, comparisons, labels
        assert index_album(library).sync.added == []  # the photos are the library's, not new ones
    assert library_path_for(album).is_file()  # a copy: the old folder may come back (a drive plugged in again)
    with Library.open_for_album(renamed) as library:
        assert library.carried_from is None and _judgements(library) == before  # its own library from now on
        library.set_rating(library.photos()[5].id, stars=3)  # rated at its second place
        after = _judgements(library)
    again = renamed.rename(tmp_path / "archive")  # moved a second time: two libraries of it left behind
    with Library.open_for_album(again) as library:
        assert library.carried_from == renamed and _judgements(library) == after  # the later one


def test_a_copy_another_album_or_a_damaged_library_is_not_taken_for_a_moved_album(data: Path, tmp_path: Path):
    album = _rated_album(tmp_path / "shoot")
    shutil.copytree(album, tmp_path / "copy")
    with Library.open_for_album(tmp_path / "copy") as library:  # the original is still there: a copy starts afresh
        assert library.carried_from is None and library.ratings() == {}
    (data / "libraries" / "broken-0123456789abcdef.sqlite3").write_bytes(b"not a database")
    album.rename(tmp_path / "away")
    other = tmp_path / "other"
    other.mkdir()
    for path in sorted((tmp_path / "away").glob("*.jpg")):  # the same names and sizes, other pictures
        size = path.stat().st_size
        (other / path.name).write_bytes(bytes(reversed(path.read_bytes()))[:size])
    with Library.open_for_album(other) as library:
        assert library.carried_from is None and library.ratings() == {}
    half = tmp_path / "half"  # only half of the album's photos: not enough of them to be that album
    half.mkdir()
    for path in sorted((tmp_path / "away").glob("*.jpg"))[:6]:
        shutil.copy2(path, half / path.name)
    assert moved_album.find_moved_library(half, data / "libraries") is None


def test_the_album_moved_to_another_drive_matches_by_content_despite_new_file_times(data: Path, tmp_path: Path):
    album = _rated_album(tmp_path / "card" / "DCIM")
    moved = tmp_path / "archive" / "2026" / "DCIM"
    moved.parent.mkdir(parents=True)
    shutil.copytree(album, moved, copy_function=shutil.copy)  # new modification times, as a plain copy gives
    shutil.rmtree(tmp_path / "card")
    found = moved_album.find_moved_library(moved, data / "libraries")
    assert found is not None and found.album == album and found.matching == 1.0
    with Library.open_for_album(moved) as library:
        assert library.carried_from == album
        sync = index_album(library).sync
        assert (sync.added, sync.removed, sync.changed) == ([], [], [])  # touched, same content: kept
        assert library.ratings() and library.comparisons()


def test_the_scan_command_says_the_library_came_along(data: Path, tmp_path: Path, capsys):
    from aesthetic_curator.cli import main

    album = _rated_album(tmp_path / "shoot")
    renamed = album.rename(tmp_path / "shoot, culled")
    assert main(["scan", str(renamed), "--no-thumbnails", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"kept from {album} (the folder was moved or renamed)" in out and "0 added" in out


def test_a_library_whose_photos_were_all_marked_missing_is_still_found(data: Path, tmp_path: Path):
    """An earlier version marked every photo missing when a re-scan found the folder gone."""
    import sqlite3

    album = _rated_album(tmp_path / "shoot")
    with Library.open_for_album(album) as library:
        before = _judgements(library)
    with sqlite3.connect(library_path_for(album)) as db:
        db.execute("UPDATE photos SET missing = 1")
    moved = album.rename(tmp_path / "moved")
    with Library.open_for_album(moved) as library:
        assert library.carried_from == album
        index_album(library)  # the photos come back, with their ratings
        assert _judgements(library) == before and len(library.photos()) == 12


def test_a_moved_album_whose_first_frames_were_deleted_is_still_found(data: Path, tmp_path: Path):
    """Test shots at the start of a shoot are often deleted: the quick look at a library does not read only
    its first photos."""
    album = _rated_album(tmp_path / "shoot", count=60)
    moved = album.rename(tmp_path / "shoot, culled")
    for path in sorted(moved.glob("*.jpg"))[:10]:
        path.unlink()
    with Library.open_for_album(moved) as library:
        assert library.carried_from == album and library.comparisons()
