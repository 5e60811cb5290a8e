"""RAW+JPEG pairs: one photo in the album, both files exported, both sidecars written and read."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt

from aesthetic_curator.library import xmp
from aesthetic_curator.library.album import import_xmp_ratings, index_album, write_xmp_ratings
from aesthetic_curator.library.export import RankedPhoto, export_photos
from aesthetic_curator.library.store import Library
from aesthetic_curator.raw_pairs import pair_raw_files, raw_companion
from tests.album_factory import write_raw_with_exif
from tests.test_gui import open_album, window  # noqa: F401  (fixture)

ToolTipRole = Qt.ItemDataRole.ToolTipRole


def test_pairs_are_found_by_stem_within_a_folder():
    names = ["A.JPG", "A.CR3", "B.jpg", "B.heic", "B.nef", "C.JPG", "D.ARW", "E.hif", "E.dng", "F.dng", "F.rw2",
             "F.jpeg", "G.xmp", "G.cr2", "a.cr3", "noext", ".jpg"]  # fmt: skip
    assert pair_raw_files(names) == {"A.JPG": "A.CR3", "B.jpg": "B.nef", "E.hif": "E.dng", "F.jpeg": "F.dng"}


def _pair_album(root: Path) -> None:
    (root / "day").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(root / "day" / "DSC_0001.JPG")
    write_raw_with_exif(root / "day" / "DSC_0001.DNG", taken="2024:06:01 12:00:00")
    Image.new("RGB", (64, 48), (20, 120, 40)).save(root / "day" / "DSC_0002.JPG")  # a JPEG alone


def test_an_unusable_jpeg_does_not_hide_its_raw(tmp_path: Path):
    from aesthetic_curator.library.scanner import scan_album

    album = tmp_path / "album"
    _pair_album(album)
    (album / "day" / "DSC_0003.JPG").write_bytes(b"")  # the card's JPEG came out empty
    write_raw_with_exif(album / "day" / "DSC_0003.DNG", taken="2024:06:01 12:00:03")
    scan = scan_album(album)
    assert {(f.relpath, f.format) for f in scan.files} == {
        ("day/DSC_0001.JPG", "RAW+JPEG"), ("day/DSC_0002.JPG", "JPEG"), ("day/DSC_0003.DNG", "RAW")
    }  # fmt: skip
    assert [(p.path, p.reason) for p in scan.problems] == [("day/DSC_0003.JPG", "empty file")] and scan.paired == 1


def test_a_pairs_jpeg_that_cannot_be_decoded_stands_aside_for_its_raw(tmp_path: Path):
    """A card error truncated the JPEG: the shot is intact in the RAW, so the album shows and ranks that."""
    from aesthetic_curator.images import decode_image
    from aesthetic_curator.library.thumbnails import ThumbnailCache

    album = tmp_path / "album"
    _pair_album(album)
    jpeg = album / "day" / "DSC_0001.JPG"
    jpeg.write_bytes(jpeg.read_bytes()[:200])
    assert decode_image(jpeg).size == (96, 64)  # the DNG's development, not an error
    (album / "day" / "DSC_0002.JPG").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")  # no RAW: still an error
    with Library(tmp_path / "lib.sqlite3", album) as library:
        summary = index_album(library, thumbnails=ThumbnailCache(tmp_path / "thumbs", size=64))
    assert [relpath for relpath, _ in summary.unreadable] == ["day/DSC_0002.JPG"]


def test_a_pair_is_one_photo_and_a_library_from_before_keeps_the_raw_rating(tmp_path: Path):
    album = tmp_path / "album"
    (album / "day").mkdir(parents=True)
    write_raw_with_exif(album / "day" / "DSC_0001.DNG", taken="2024:06:01 12:00:00")
    with Library(tmp_path / "lib.sqlite3", album) as library:
        index_album(library)
        raw = library.photo("day/DSC_0001.DNG")
        assert raw.format == "RAW" and raw.companion is None
        library.set_rating(raw.id, stars=4)
        library.set_label(raw.id, "red")
        Image.new("RGB", (64, 48), (20, 120, 40)).save(album / "day" / "DSC_0002.JPG")
        index_album(library)
        other = library.photo("day/DSC_0002.JPG").id
        library.add_comparison(raw.id, other, "a")  # the RAW was preferred to DSC_0002
        _pair_album(album)  # the camera's JPEGs arrive beside the RAW
        summary = index_album(library)
        assert summary.scan.paired == 1 and len(summary.scan.files) == 2
        assert summary.sync.paired == [("day/DSC_0001.DNG", "day/DSC_0001.JPG")] and summary.sync.removed == []
        pair = library.photo("day/DSC_0001.JPG")
        assert pair.format == "RAW+JPEG" and pair.companion == "DSC_0001.DNG"
        assert library.companion_path(pair) == album / "day" / "DSC_0001.DNG"
        assert [p.relpath for p in library.photos()] == ["day/DSC_0001.JPG", "day/DSC_0002.JPG"]
        assert library.ratings()[pair.id].stars == 4 and library.labels()[pair.id] == "red"
        assert [(c.photo_a, c.photo_b, c.outcome) for c in library.comparisons()] == [(pair.id, other, "a")]
        assert library.training_pairs() == [(album / "day" / "DSC_0001.JPG", album / "day" / "DSC_0002.JPG")]
        (album / "day" / "DSC_0001.DNG").unlink()  # the RAW deleted: the JPEG is a photo of one file again
        index_album(library)
        alone = library.photo("day/DSC_0001.JPG")
        assert (alone.format, alone.companion, alone.id) == ("JPEG", None, pair.id)


def test_export_copies_the_raw_beside_its_jpeg_with_its_sidecar_and_stars(tmp_path: Path):
    album, dest = tmp_path / "album", tmp_path / "picks"
    _pair_album(album)
    xmp.write_sidecar(album / "day" / "DSC_0001.DNG", label="green")  # darktable's sidecar of the RAW
    assert raw_companion(album / "day" / "DSC_0001.JPG") == album / "day" / "DSC_0001.DNG"
    assert raw_companion(album / "day" / "DSC_0002.JPG") is None
    ranking = [RankedPhoto("day/DSC_0001.JPG", 0.9, 1), RankedPhoto("day/DSC_0002.JPG", 0.1, 2)]
    report = export_photos(ranking, album, dest, top=1, write_xmp=True)
    assert report.written == 1 and report.problems == []
    assert sorted(p.name for p in dest.iterdir()) == [
        "DSC_0001.DNG", "DSC_0001.DNG.xmp", "DSC_0001.JPG", "DSC_0001.JPG.xmp", "ranking.csv"
    ]  # fmt: skip
    assert (dest / "DSC_0001.DNG").read_bytes() == (album / "day" / "DSC_0001.DNG").read_bytes()
    raw_fields = xmp.read_fields(dest / "DSC_0001.DNG.xmp")
    assert raw_fields["Xmp.xmp.Rating"] == "3" and raw_fields["Xmp.xmp.Label"] == "Green"  # rank 1 of 2: 3 stars
    assert xmp.read_fields(dest / "DSC_0001.JPG.xmp")["Xmp.xmp.Rating"] == "3"
    for name in ("DSC_0001.DNG", "DSC_0001.DNG.xmp", "DSC_0001.JPG.xmp"):
        (dest / name).unlink()  # as if the first run was killed between the JPEG and the RAW
    again = export_photos(ranking, album, dest, top=1)
    assert again.resumed == 1 and (dest / "DSC_0001.DNG").read_bytes() == (album / "day" / "DSC_0001.DNG").read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == ["DSC_0001.DNG", "DSC_0001.DNG.xmp", "DSC_0001.JPG", "ranking.csv"]
    shared = export_photos(ranking, album, tmp_path / "share", top=1, mode="jpeg", long_edge=32)
    assert sorted(p.name for p in (tmp_path / "share").iterdir()) == ["DSC_0001.jpg", "ranking.csv"]
    assert shared.written == 1


def test_a_pairs_rating_goes_into_both_sidecars_and_comes_back_from_the_raws(tmp_path: Path):
    album = tmp_path / "album"
    _pair_album(album)
    with Library(tmp_path / "lib.sqlite3", album) as library:
        index_album(library)
        pair = library.photo("day/DSC_0001.JPG")
        library.set_rating(pair.id, stars=3)
        assert write_xmp_ratings(library, naming="photo").written == 2
        for name in ("DSC_0001.JPG.xmp", "DSC_0001.DNG.xmp"):
            assert xmp.read_fields(album / "day" / name)["Xmp.xmp.Rating"] == "3"
        for name in ("DSC_0001.JPG.xmp", "DSC_0001.DNG.xmp"):
            (album / "day" / name).unlink()
        stem = write_xmp_ratings(library, naming="stem")  # Lightroom's IMG.xmp serves both files
        assert (stem.written, stem.problems) == (1, [])
        assert xmp.read_fields(album / "day" / "DSC_0001.xmp")["Xmp.xmp.Rating"] == "3"
        (album / "day" / "DSC_0001.xmp").unlink()
        xmp.write_sidecar(album / "day" / "DSC_0001.DNG", stars=5, label="blue")  # rated in darktable
        library.set_rating(pair.id, stars=None)
        assert import_xmp_ratings(library).imported == 1
        assert library.ratings()[pair.id].stars == 5 and library.labels()[pair.id] == "blue"


def test_scan_command_says_how_many_raw_files_were_paired(tmp_path: Path, capsys):
    from aesthetic_curator.cli import main

    album = tmp_path / "album"
    _pair_album(album)
    assert main(["scan", str(album), "-q", "--no-thumbnails"]) == 0
    out = capsys.readouterr().out
    assert "2 photos" in out and "JPEG 1, RAW+JPEG 1" in out and "1 RAW files paired with their JPEG" in out


def test_the_grid_shows_a_pair_as_one_tile_named_for_both(qtbot, window, tmp_path: Path):  # noqa: F811
    album = tmp_path / "album"
    _pair_album(album)
    open_album(qtbot, window, album)
    names = [window.model.index(row).data() for row in range(window.model.rowCount())]
    assert names == ["DSC_0001.JPG + DNG", "DSC_0002.JPG"]
    assert "RAW+JPEG: DSC_0001.DNG is rated and exported with it" in window.model.index(0).data(ToolTipRole)
    assert "RAW+JPEG" in window.statusBar().currentMessage()
    window.grid.grab()  # paints the tiles, the pair's with its RAW+JPEG badge
    window.grid.setCurrentIndex(window.model.index(0))
    assert "day/DSC_0001.JPG + DNG" in window.selection_label.text()
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert "day/DSC_0001.JPG + DNG" in window.loupe.caption.text()
    qtbot.keyClick(window.loupe, Qt.Key.Key_Escape)


def test_a_resized_copy_of_a_raw_keeps_when_and_how_it_was_taken(tmp_path: Path):
    """Pillow reads no EXIF from a RAW; exiv2 carries the camera, the time and the exposure into the copy."""
    from aesthetic_curator.library.share_copy import same_share_copy
    from aesthetic_curator.photo_exif import read_exif

    album = tmp_path / "album"
    album.mkdir()
    write_raw_with_exif(album / "DSC_0009.DNG", taken="2024:06:01 12:30:05", subsec="25")
    report = export_photos([RankedPhoto("DSC_0009.DNG", 1.0, 1)], album, tmp_path / "share", top=1, mode="jpeg")
    copy = tmp_path / "share" / "DSC_0009.jpg"
    assert report.written == 1 and copy.is_file()
    exif = read_exif(copy)
    assert (exif.taken, exif.taken_subsec, exif.model, exif.exposure) == (
        "2024:06:01 12:30:05",
        "25",
        "Nikon Z 6_2",
        0.004,
    )
    assert same_share_copy(album / "DSC_0009.DNG", copy, 2048)  # its resume mark survived exiv2's write


def test_the_raw_can_stay_behind_from_the_command_line_and_the_dialog(qtbot, tmp_path: Path, capsys):
    from aesthetic_curator.cli import main
    from aesthetic_curator.gui.export_dialog import ExportDialog

    album = tmp_path / "album"
    _pair_album(album)
    ranking = tmp_path / "ranking.csv"
    ranking.write_text("image,score,rank,source\nday/DSC_0001.JPG,0.9,1,day/DSC_0001.JPG\n", encoding="utf-8")
    argv = ["export", "--ranking", str(ranking), "--images", str(album), "--top", "1", "-q"]
    assert main([*argv, "--dest", str(tmp_path / "both")]) == 0
    assert main([*argv, "--dest", str(tmp_path / "jpeg"), "--no-raw"]) == 0
    assert {p.name for p in (tmp_path / "both").iterdir()} == {"DSC_0001.JPG", "DSC_0001.DNG", "ranking.csv"}
    assert {p.name for p in (tmp_path / "jpeg").iterdir()} == {"DSC_0001.JPG", "ranking.csv"}

    dialog = ExportDialog(None, tmp_path / "out")
    qtbot.addWidget(dialog)
    assert dialog.choice().with_raw and dialog.with_raw.isEnabled()
    dialog.with_raw.setChecked(False)
    assert not dialog.choice().with_raw
    dialog.mode.setCurrentIndex(dialog.mode.findData("jpeg"))  # a resized copy is one JPEG anyway
    assert not dialog.with_raw.isEnabled()


def test_numbered_names_keep_the_export_s_order_for_the_raw_and_sidecars_too_and_a_rerun_resumes(
    tmp_path: Path, capsys
):
    from aesthetic_curator.cli import main

    album, dest = tmp_path / "album", tmp_path / "show"
    _pair_album(album)
    ranking = [RankedPhoto("day/DSC_0002.JPG", 0.9, 1), RankedPhoto("day/DSC_0001.JPG", 0.5, 2)]
    report = export_photos(ranking, album, dest, top=2, write_xmp=True, numbered=True)
    assert report.written == 2 and report.problems == []
    assert sorted(p.name for p in dest.iterdir()) == [
        "001_DSC_0002.JPG", "001_DSC_0002.JPG.xmp", "002_DSC_0001.DNG", "002_DSC_0001.DNG.xmp",
        "002_DSC_0001.JPG", "002_DSC_0001.JPG.xmp", "ranking.csv",
    ]  # fmt: skip
    for name in ("002_DSC_0001.DNG", "002_DSC_0001.DNG.xmp", "002_DSC_0001.JPG.xmp"):
        (dest / name).unlink()  # as if the first run was killed between the JPEG and its RAW
    again = export_photos(ranking, album, dest, top=2, numbered=True)
    assert again.resumed == 2 and (dest / "002_DSC_0001.DNG").is_file() and not list(dest.glob("* (2)*"))
    listed = tmp_path / "ranking.csv"
    listed.write_text("image,score,rank\nday/DSC_0002.JPG,0.9,1\nday/DSC_0001.JPG,0.5,2\n")
    argv = ["export", "--ranking", str(listed), "--images", str(album), "--dest", str(tmp_path / "cli")]
    assert main([*argv, "--top", "2", "--mode", "jpeg", "--long-edge", "32", "--numbered", "-q"]) == 0
    shared = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert shared == ["001_DSC_0002.jpg", "002_DSC_0001.jpg", "ranking.csv"]
