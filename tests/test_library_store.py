"""The library database: ratings semantics, profiles and scores, migrations, and crash safety."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from PIL import Image

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library.scanner import ScannedFile, ScanResult
from aesthetic_curator.library.store import PICKED, REJECTED, SCHEMA_VERSION, Library


def _scan(root, names):
    return ScanResult(root, [ScannedFile(n, 10 + i, 1000 + i, f"hash{i}", "JPEG") for i, n in enumerate(names)])


@pytest.fixture
def library(tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    with Library(tmp_path / "lib.sqlite3", album) as lib:
        lib.sync(_scan(album, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]))
        yield lib


def test_schema_pragmas_and_version(library):
    assert library.schema_version == SCHEMA_VERSION
    assert library._query("PRAGMA journal_mode")[0][0] == "wal"
    assert library._query("PRAGMA foreign_keys")[0][0] == 1
    assert library.integrity_ok()


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    db = tmp_path / "future.sqlite3"
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(CuratorError, match="newer Aesthetic Curator"):
        Library(db, tmp_path)


def test_stars_flags_and_training_ratings(library):
    ids = {p.relpath: p.id for p in library.photos()}
    library.set_rating(ids["a.jpg"], stars=5)
    library.set_rating(ids["a.jpg"], flag=PICKED)  # stars kept
    library.set_rating(ids["b.jpg"], flag=REJECTED)
    library.set_rating(ids["c.jpg"], flag=PICKED)  # a pick alone has no order
    library.set_rating(ids["d.jpg"], stars=2)
    library.set_rating(ids["d.jpg"], stars=None)  # 0 key: cleared
    ratings = library.ratings()
    assert (ratings[ids["a.jpg"]].stars, ratings[ids["a.jpg"]].flag) == (5, PICKED)
    assert ids["d.jpg"] not in ratings
    training = {p.name: r for p, r in library.training_ratings()}
    assert training == {"a.jpg": 5.0, "b.jpg": 0.0}
    with pytest.raises(ValueError):
        library.set_rating(ids["a.jpg"], stars=6)


def test_colour_labels_are_kept_apart_from_ratings(library):
    ids = {p.relpath: p.id for p in library.photos()}
    library.set_label(ids["a.jpg"], "red")
    library.set_label(ids["a.jpg"], "blue")  # one label per photo, as in Lightroom
    library.set_label(ids["b.jpg"], "purple")
    library.set_label(ids["b.jpg"], None)
    assert library.labels() == {ids["a.jpg"]: "blue"}
    assert library.ratings() == {} and library.training_ratings() == []  # a label is not a rating
    with pytest.raises(ValueError):
        library.set_label(ids["a.jpg"], "magenta")


def test_profiles_and_scores_cascade(library):
    ids = [p.id for p in library.photos()]
    pid = library.save_profile("portraits", b"\x00profile-bytes", "bundle-1", {"k": 12})
    library.store_scores(pid, [(photo, 10.0 - i, i + 1) for i, photo in enumerate(ids)])
    assert library.scores(pid)[ids[0]] == (10.0, 1)
    library.rename_profile(pid, "client X")
    other = library.save_profile("landscapes", b"x", "bundle-1")
    with pytest.raises(CuratorError, match="already exists"):
        library.rename_profile(other, "client X")
    assert [p.name for p in library.profiles()] == ["client X", "landscapes"]
    assert library.profile_data(pid) == b"\x00profile-bytes"
    library.delete_profile(pid)
    assert library.scores(pid) == {}
    assert library.integrity_ok()


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from aesthetic_curator.library.store import Library
    from aesthetic_curator.library.scanner import ScannedFile, ScanResult
    db, album = Path(sys.argv[1]), Path(sys.argv[2])
    library = Library(db, album)
    batch = 0
    while True:
        names = [f"batch{batch:05d}/p{i}.jpg" for i in range(50)]
        with library.transaction() as con:
            for i, name in enumerate(names):
                cur = con.execute(
                    "INSERT INTO photos (relpath, size, mtime_ns, content_hash, format, added_at, updated_at)"
                    " VALUES (?, 1, 1, ?, 'JPEG', 0, 0)", (name, f"h{batch}-{i}"))
                con.execute("INSERT INTO ratings (photo_id, stars, flag, source, rated_at) VALUES (?, 3, 0, 'user', 0)",
                            (cur.lastrowid,))
        batch += 1
        print(batch, flush=True)
    """
)


@pytest.mark.parametrize("kill_after", [0.15, 0.4, 0.9])
def test_database_survives_a_kill_during_writes(tmp_path, kill_after):
    album = tmp_path / "album"
    album.mkdir()
    db = tmp_path / "lib.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(album)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "1"  # at least one batch committed
        time.sleep(kill_after)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    with Library(db, album) as library:
        assert library.integrity_ok()
        photos = library._query("SELECT COUNT(*) FROM photos")[0][0]
        ratings = library._query("SELECT COUNT(*) FROM ratings")[0][0]
        assert photos >= 50 and photos % 50 == 0, "a transaction was half applied"
        assert ratings == photos


def test_comparisons_are_stored_undone_and_survive_a_move(tmp_path):
    """Pairwise answers live with the ratings: by photo id, through re-scans and renames."""
    from aesthetic_curator.library.scanner import scan_album

    album = tmp_path / "album"
    album.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        Image.new("RGB", (8, 8), (len(name) * 40, 10, 10)).save(album / name)
    with Library(tmp_path / "lib.sqlite3", album) as library:
        library.sync(scan_album(album))
        a, b, c = (library.photo(n).id for n in ("a.jpg", "b.jpg", "c.jpg"))
        first = library.add_comparison(a, b, "b")
        library.add_comparison(b, c, "a")
        library.add_comparison(a, c, "tie")
        with pytest.raises(CuratorError, match="itself"):
            library.add_comparison(a, a, "a")
        with pytest.raises(CuratorError, match="outcome"):
            library.add_comparison(a, b, "left")
        with pytest.raises(CuratorError, match="belong to the album"):
            library.add_comparison(a, 9999, "a")
        assert library.undo_comparison().outcome == "tie"  # the latest answer goes first
        assert [(p.name, q.name) for p, q in library.training_pairs()] == [("b.jpg", "a.jpg"), ("b.jpg", "c.jpg")]
        (album / "b.jpg").rename(album / "renamed.jpg")
        library.sync(scan_album(album))
        assert [(p.name, q.name) for p, q in library.training_pairs()] == [
            ("renamed.jpg", "a.jpg"),
            ("renamed.jpg", "c.jpg"),
        ]
        library.remove_comparison(first)
        assert len(library.comparisons()) == 1


def _library_at_version(db, version: int):
    """A library file as a release with schema ``version`` left it."""
    from aesthetic_curator.library.schema import MIGRATIONS

    con = sqlite3.connect(db)
    for migration in MIGRATIONS[:version]:
        con.executescript(migration)
    con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    con.close()
    return db


def test_a_version_1_library_gains_the_later_tables(tmp_path):
    from aesthetic_curator.library.schema import SCHEMA_VERSION

    db = _library_at_version(tmp_path / "old.sqlite3", 1)
    album = tmp_path / "album"
    album.mkdir()
    with Library(db, album) as library:
        assert library.schema_version == SCHEMA_VERSION == 7
        assert library.labels() == {}
        assert library.comparisons() == [] and library.profile_version_count(1) == 0


def test_a_lone_raw_s_hash_and_plain_average_read_sideways_before_are_read_again(tmp_path):
    """Schema 7: RAW previews are turned upright since; what a library kept from the sideways preview of a
    lone RAW (its perceptual hash, its plain-average score) is read again, a JPEG's or a pair's is kept."""
    from aesthetic_curator.library.photo_features import PhotoMoment

    db = _library_at_version(tmp_path / "v6.sqlite3", 6)
    album = tmp_path / "album"
    album.mkdir()
    with Library(db, album) as library:
        library.sync(
            ScanResult(
                album,
                [
                    ScannedFile("a.jpg", 10, 1000, "ha", "JPEG"),
                    ScannedFile("b.nef", 11, 1001, "hb", "RAW"),
                    ScannedFile("c.jpg", 12, 1002, "hc", "RAW+JPEG", companion="c.nef"),
                ],
            )
        )
        ids = {p.relpath: p.id for p in library.photos()}
        library.store_photo_moments(
            (h, PhotoMoment(ids[n], 5.0, "exif", 7)) for n, h in (("a.jpg", "ha"), ("b.nef", "hb"), ("c.jpg", "hc"))
        )
        library.store_reference_scores(
            "bundle", [(ids["a.jpg"], 0.1, 2), (ids["b.nef"], 0.2, 1), (ids["c.jpg"], 0.0, 3)]
        )
        library._db.execute("PRAGMA user_version = 6")
    with Library(db, album) as library:
        assert library.schema_version == 7
        kept = {pid: content for pid, (content, _) in library.photo_moments().items()}
        assert kept == {ids["a.jpg"]: "ha", ids["b.nef"]: "", ids["c.jpg"]: "hc"}  # the RAW's: stale, read again
        assert set(library.reference_scores("bundle")) == {ids["a.jpg"], ids["c.jpg"]}
