"""XMP interop and export: other tools' fields survive, originals never change, no half files."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pyexiv2
import pytest
from PIL import Image

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library import export as export_module
from aesthetic_curator.library import xmp
from aesthetic_curator.library.album import import_xmp_ratings, index_album, write_xmp_ratings
from aesthetic_curator.library.export import RankedPhoto, export_photos, select_top, stars_for_rank
from aesthetic_curator.library.store import PICKED, REJECTED, Library

DARKTABLE_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/" xmp:Rating="{rating}" darktable:history_end="7"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def _checksums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def album(tmp_path) -> Path:
    root = tmp_path / "album"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    for i in range(10):
        folder = root / ("a" if i % 2 else "b")
        Image.new("RGB", (32, 24), (i * 20, 100, 50)).save(folder / f"IMG_{i:04d}.jpg")
    Image.new("RGB", (32, 24)).save(root / "b" / "IMG_0001.jpg")  # same name as a/IMG_0001.jpg
    (root / "a" / "IMG_0001.jpg.xmp").write_text(DARKTABLE_SIDECAR.format(rating=2))  # NAME.EXT.xmp form
    (root / "b" / "IMG_0002.xmp").write_text(DARKTABLE_SIDECAR.format(rating=-1))  # NAME.xmp form
    return root


def _ranking(album: Path) -> list[RankedPhoto]:
    photos = sorted(p.relative_to(album).as_posix() for p in album.rglob("*.jpg"))
    return [RankedPhoto(rel, 10.0 - i * 0.5, i + 1) for i, rel in enumerate(photos)]


def test_ratings_read_from_both_sidecar_forms_and_embedded_xmp(album, tmp_path):
    assert xmp.read_rating(album / "a" / "IMG_0001.jpg").stars == 2
    rejected = xmp.read_rating(album / "b" / "IMG_0002.jpg")
    assert rejected.rejected and rejected.stars is None
    assert xmp.read_rating(album / "a" / "IMG_0003.jpg") is None
    embedded = tmp_path / "embedded.jpg"
    shutil.copy(album / "a" / "IMG_0003.jpg", embedded)
    import pyexiv2

    with pyexiv2.Image(str(embedded)) as image:
        image.modify_xmp({"Xmp.xmp.Rating": "4"})
    assert xmp.read_rating(embedded).stars == 4


def test_xmp_round_trip_keeps_other_tools_fields(album):
    photo = album / "a" / "IMG_0001.jpg"
    sidecar = xmp.write_sidecar(photo, stars=5, score=7.25, rank=3, profile="portraits")
    assert sidecar == album / "a" / "IMG_0001.jpg.xmp"  # the existing sidecar, not a new one
    fields = xmp.read_fields(sidecar)
    assert fields["Xmp.xmp.Rating"] == "5"
    assert fields["Xmp.darktable.history_end"] == "7"  # written by another tool, kept
    assert fields["Xmp.aecur.Score"] == "7.2500" and fields["Xmp.aecur.Profile"] == "portraits"
    assert xmp.read_rating(photo).stars == 5
    new = xmp.write_sidecar(album / "a" / "IMG_0003.jpg", stars=1)
    assert new.name == "IMG_0003.jpg.xmp" and xmp.read_rating(album / "a" / "IMG_0003.jpg").stars == 1


def test_import_xmp_ratings_into_the_library(album, tmp_path):
    with Library(tmp_path / "lib.sqlite3", album) as library:
        index_album(library)
        user_rated = library.photo("a/IMG_0001.jpg")
        library.set_rating(user_rated.id, stars=5)
        assert import_xmp_ratings(library).imported == 1  # the user's own rating is not overwritten
        ratings = library.ratings()
        assert ratings[user_rated.id].stars == 5
        assert ratings[library.photo("b/IMG_0002.jpg").id].flag == REJECTED
        assert import_xmp_ratings(library, overwrite=True).imported == 2
        assert library.ratings()[user_rated.id].stars == 2


def test_ratings_written_back_to_sidecars_beside_the_photos_keep_other_tools_fields(album, tmp_path):
    (album / "a" / "IMG_0005.jpg.xmp").write_text("not XMP at all")  # a broken sidecar: reported, untouched
    Image.new("RGB", (32, 24)).save(album / "a" / "IMG_0009.png")  # IMG_0009.jpg's twin: one NAME.xmp for both
    photos_before = {name: digest for name, digest in _checksums(album).items() if not name.endswith(".xmp")}
    unchanged_sidecar = album / "b" / "IMG_0002.xmp"
    mtime = unchanged_sidecar.stat().st_mtime_ns
    with Library(tmp_path / "lib.sqlite3", album) as library:
        index_album(library)

        def rate(relpath: str, **rating) -> None:
            library.set_rating(library.photo(relpath).id, **rating)

        rate("a/IMG_0001.jpg", stars=5)  # its darktable sidecar gets 5 and keeps its history
        rate("b/IMG_0002.jpg", flag=REJECTED)  # its sidecar already says rejected
        rate("a/IMG_0003.jpg", stars=3)  # no sidecar yet: a new IMG_0003.jpg.xmp
        rate("b/IMG_0004.jpg", flag=PICKED)  # a pick without stars: digiKam's and Adobe's pick fields
        rate("a/IMG_0005.jpg", stars=4)
        rate("a/IMG_0009.jpg", stars=2)
        rate("a/IMG_0009.png", stars=1)
        outcome = write_xmp_ratings(library, naming="stem")

    assert (outcome.written, outcome.unchanged) == (4, 1)
    assert [relpath for relpath, _ in outcome.problems] == ["a/IMG_0005.jpg", "a/IMG_0009.png"]
    assert "unreadable XMP sidecar" in outcome.problems[0][1] and "shares IMG_0009.xmp" in outcome.problems[1][1]
    fields = xmp.read_fields(album / "a" / "IMG_0001.jpg.xmp")
    assert fields["Xmp.xmp.Rating"] == "5" and fields["Xmp.darktable.history_end"] == "7"
    assert xmp.read_fields(album / "a" / "IMG_0003.xmp")["Xmp.xmp.Rating"] == "3"  # named as asked
    assert xmp.read_fields(album / "a" / "IMG_0009.xmp")["Xmp.xmp.Rating"] == "2"
    picked = xmp.read_fields(album / "b" / "IMG_0004.xmp")
    assert picked == {"Xmp.digiKam.PickLabel": "3", "Xmp.xmpDM.pick": "1"}  # no rating: a pick is not stars
    assert unchanged_sidecar.stat().st_mtime_ns == mtime  # no change for Lightroom to flag
    assert (album / "a" / "IMG_0005.jpg.xmp").read_text() == "not XMP at all"
    photos_after = {name: digest for name, digest in _checksums(album).items() if not name.endswith(".xmp")}
    assert photos_after == photos_before  # the photos themselves never change
    with Library(tmp_path / "lib.sqlite3", album) as library:  # read back, they are the app's ratings again
        assert import_xmp_ratings(library, overwrite=True).imported == 6
        assert library.ratings()[library.photo("a/IMG_0003.jpg").id].stars == 3
        assert library.ratings()[library.photo("b/IMG_0004.jpg").id].flag == PICKED


def test_pick_flags_are_read_from_digikam_and_adobe_fields_and_a_reject_replaces_a_pick(tmp_path):
    photo = tmp_path / "IMG_1.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    sidecar = photo.with_name("IMG_1.jpg.xmp")

    def given(fields: dict[str, str]):
        sidecar.unlink(missing_ok=True)
        xmp.write_sidecar(photo, stars=0)  # an empty sidecar (rating 0), then the fields another tool wrote
        with pyexiv2.Image(str(sidecar)) as image:
            image.modify_xmp({"Xmp.xmp.Rating": None, **fields})
        return xmp.read_rating(photo)

    digikam_reject = given({"Xmp.digiKam.PickLabel": "1"})
    assert digikam_reject.rejected and not digikam_reject.picked and digikam_reject.stars is None
    accepted = given({"Xmp.digiKam.PickLabel": "3", "Xmp.xmp.Rating": "4"})
    assert accepted.picked and accepted.stars == 4 and not accepted.rejected
    assert given({"Xmp.xmpDM.pick": "-1"}).rejected and given({"Xmp.xmpDM.pick": "1"}).picked
    assert given({"Xmp.digiKam.PickLabel": "2"}) is None  # digiKam's "pending": no flag, no rating
    assert given({"Xmp.xmp.Rating": "-1", "Xmp.digiKam.PickLabel": "3"}).rejected  # a reject wins over a pick

    album = tmp_path / "album"
    album.mkdir()
    shot = album / "IMG_2.jpg"
    Image.new("RGB", (8, 8)).save(shot)
    xmp.write_sidecar(shot, stars=5, pick="picked")  # picked and starred before, written then
    with Library(tmp_path / "lib.sqlite3", album) as library:
        index_album(library)
        library.set_rating(library.photo("IMG_2.jpg").id, stars=None, flag=REJECTED)  # then rejected here
        assert write_xmp_ratings(library).written == 1
    fields = xmp.read_fields(album / "IMG_2.jpg.xmp")
    assert (fields["Xmp.xmp.Rating"], fields["Xmp.digiKam.PickLabel"], fields["Xmp.xmpDM.pick"]) == ("-1", "1", "-1")


def test_selection_rules_and_star_bands():
    ranking = [RankedPhoto(f"{i}.jpg", 100 - i, i + 1) for i in range(20)]
    assert len(select_top(ranking, top=5)) == 5
    assert len(select_top(ranking, top_percent=10)) == 2
    assert [r.rank for r in select_top(ranking, min_score=95)] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(CuratorError, match="exactly one"):
        select_top(ranking, top=1, min_score=3)
    assert [stars_for_rank(r, 100) for r in (1, 10, 11, 30, 31, 60, 61, 85, 86, 100)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_export_copies_with_sidecars_resolves_clashes_and_keeps_originals(album, tmp_path):
    before = _checksums(album)
    dest = tmp_path / "best"
    dest.mkdir()
    (dest / "IMG_0000.jpg").write_text("a file already there")
    ranking = _ranking(album)
    result = export_photos(ranking, album, dest, top=len(ranking), write_xmp=True, profile_name="me")
    assert result.written == len(ranking)
    assert (dest / "IMG_0000.jpg").read_text() == "a file already there"  # never overwritten
    names = sorted(p.name for p in dest.iterdir() if p.suffix == ".jpg")
    assert len(names) == len(ranking) + 1
    assert "IMG_0000 (2).jpg" in names and "IMG_0001 (2).jpg" in names  # clashes got suffixes
    exported = {i.photo.relpath: i.target for i in result.items}
    src = album / ranking[0].relpath
    assert exported[ranking[0].relpath].stat().st_mtime == pytest.approx(src.stat().st_mtime, abs=1e-3)
    darktable_copy = Path(str(exported["a/IMG_0001.jpg"]) + ".xmp")
    fields = xmp.read_fields(darktable_copy)
    assert fields["Xmp.darktable.history_end"] == "7" and fields["Xmp.aecur.Profile"] == "me"
    top = exported[ranking[0].relpath]
    assert xmp.read_rating(top).stars == 5  # rank 1 of 11: top 10%
    rows = result.ranking_csv.read_text().splitlines()
    assert rows[0] == "image,score,rank,source" and len(rows) == len(ranking) + 1
    assert _checksums(album) == before  # originals and their sidecars untouched
    assert not list(dest.glob(".*"))  # no temporary files left


def test_dry_run_writes_nothing(album, tmp_path):
    dest = tmp_path / "dry"
    result = export_photos(_ranking(album), album, dest, top_percent=50, write_xmp=True, dry_run=True)
    assert len(result.items) == 6 and result.written == 0
    assert not dest.exists()


def test_hardlink_export_links_photos_but_copies_sidecars(album, tmp_path):
    before = _checksums(album)
    dest = tmp_path / "links"
    ranking = _ranking(album)
    result = export_photos(ranking, album, dest, min_score=0, mode="hardlink", write_xmp=True)
    for item in result.items:
        assert item.target.stat().st_ino == item.source.stat().st_ino
    assert _checksums(album) == before  # writing stars into exported sidecars did not touch originals


def test_interrupted_export_leaves_no_partial_files(album, tmp_path, monkeypatch):
    before = _checksums(album)
    dest = tmp_path / "broken"
    real_copy = shutil.copy2
    calls = {"n": 0}

    def failing_copy(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            Path(dst).write_bytes(b"half a fi")  # the disk filled up mid-file
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(export_module.shutil, "copy2", failing_copy)
    with pytest.raises(OSError, match="No space left"):
        export_photos(_ranking(album), album, dest, top=8)
    written = sorted(p.name for p in dest.iterdir())
    assert not [n for n in written if n.startswith(".")], written  # no temporary left behind
    originals = {p.read_bytes() for p in album.rglob("*") if p.is_file()}
    assert 3 <= len(written) <= 4  # three photos (+ one sidecar) made it before the failure
    for name in written:
        assert (dest / name).read_bytes() in originals  # every file written is complete
    assert _checksums(album) == before


def test_scan_write_xmp_from_the_command_line(album, capsys):
    from aesthetic_curator.cli import main

    with Library.open_for_album(album) as library:
        index_album(library)
        library.set_rating(library.photo("a/IMG_0003.jpg").id, stars=4)
        library.set_rating(library.photo("a/IMG_0005.jpg").id, flag=REJECTED)
    assert main(["scan", str(album), "--no-thumbnails", "-q", "--write-xmp", "--sidecar-names", "stem"]) == 0
    assert "ratings written to XMP sidecars: 2 (0 already said so)" in capsys.readouterr().out
    assert xmp.read_rating(album / "a" / "IMG_0003.jpg").stars == 4
    assert (album / "a" / "IMG_0005.xmp").is_file() and xmp.read_rating(album / "a" / "IMG_0005.jpg").rejected


def test_colour_labels_go_out_to_sidecars_and_come_back_in(album, tmp_path):
    label_sidecar = DARKTABLE_SIDECAR.replace('xmp:Rating="{rating}"', 'xmp:Rating="{rating}" xmp:Label="{label}"')
    (album / "b" / "IMG_0004.jpg.xmp").write_text(label_sidecar.format(rating=0, label="green"))  # any case
    (album / "b" / "IMG_0006.jpg.xmp").write_text(label_sidecar.format(rating=3, label="To Print"))  # not a colour
    with Library(tmp_path / "lib.sqlite3", album) as library:
        index_album(library)
        library.set_rating(library.photo("a/IMG_0001.jpg").id, stars=4)  # rated here; its label may still come
        outcome = import_xmp_ratings(library)
        ids = {relpath: library.photo(relpath).id for relpath in ("b/IMG_0004.jpg", "b/IMG_0006.jpg")}
        assert outcome.labelled == 1 and library.labels() == {ids["b/IMG_0004.jpg"]: "green"}
        assert ids["b/IMG_0004.jpg"] not in library.ratings()  # rating 0: unrated, the label is still taken

        library.set_label(library.photo("a/IMG_0003.jpg").id, "purple")  # a label alone
        library.set_label(library.photo("a/IMG_0001.jpg").id, "red")
        written = write_xmp_ratings(library)
    fields = xmp.read_fields(album / "a" / "IMG_0003.jpg.xmp")
    assert fields["Xmp.xmp.Label"] == "Purple" and "Xmp.xmp.Rating" not in fields  # nothing about its stars
    fields = xmp.read_fields(album / "a" / "IMG_0001.jpg.xmp")
    assert (fields["Xmp.xmp.Rating"], fields["Xmp.xmp.Label"]) == ("4", "Red")
    assert fields["Xmp.darktable.history_end"] == "7"
    assert xmp.read_fields(album / "b" / "IMG_0006.jpg.xmp")["Xmp.xmp.Label"] == "To Print"  # not ours: kept
    assert written.unchanged == 2  # IMG_0002's reject and IMG_0006's 3 stars were already there
    assert xmp.read_fields(album / "b" / "IMG_0004.jpg.xmp")["Xmp.xmp.Label"] == "Green"  # as Lightroom spells it


def test_resized_jpegs_for_sharing_are_upright_srgb_keep_exif_and_resume(tmp_path):
    from PIL import ImageCms

    album = tmp_path / "album"
    album.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turned 90° when shown
    exif[0x0110] = "Test Camera"
    Image.new("RGB", (1200, 900), (200, 40, 40)).save(album / "portrait.jpg", exif=exif)
    (album / "portrait.jpg.xmp").write_text(DARKTABLE_SIDECAR.format(rating=3))  # an editor's: not copied
    Image.new("RGB", (300, 200), (10, 200, 10)).save(album / "small.png")  # never enlarged
    (album / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    before = _checksums(album)
    ranking = [RankedPhoto("portrait.jpg", 9.0, 1), RankedPhoto("broken.jpg", 8.0, 2), RankedPhoto("small.png", 7.0, 3)]
    dest = tmp_path / "share"

    result = export_photos(ranking, album, dest, top=3, mode="jpeg", long_edge=400)
    assert result.written == 2 and len(result.problems) == 1 and "broken.jpg: not exported" in result.problems[0]
    assert sorted(p.name for p in dest.iterdir()) == ["portrait.jpg", "ranking.csv", "small.jpg"]
    with Image.open(dest / "portrait.jpg") as shared:
        assert shared.format == "JPEG" and shared.size == (300, 400)  # upright, the long edge as asked
        assert 0x0112 not in shared.getexif() and shared.getexif()[0x0110] == "Test Camera"
        profile = ImageCms.ImageCmsProfile(io.BytesIO(shared.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile)
    with Image.open(dest / "small.jpg") as shared:
        assert shared.size == (300, 200)
    assert (dest / "portrait.jpg").stat().st_mtime_ns == (album / "portrait.jpg").stat().st_mtime_ns

    again = export_photos(ranking, album, dest, top=3, mode="jpeg", long_edge=400)  # a rerun finishes, no copies
    assert again.resumed == 2 and sorted(p.name for p in dest.glob("*.jpg")) == ["portrait.jpg", "small.jpg"]
    larger = export_photos(ranking, album, dest, top=1, mode="jpeg", long_edge=600)  # another size: a new file
    assert larger.resumed == 0 and (dest / "portrait (2).jpg").is_file()
    assert _checksums(album) == before  # the originals never change


def test_export_resized_jpegs_from_the_command_line(tmp_path, capsys):
    from aesthetic_curator.cli import main

    album = tmp_path / "album"
    album.mkdir()
    Image.new("RGB", (800, 600), (20, 30, 40)).save(album / "a.jpg")
    ranking = tmp_path / "ranking.csv"
    ranking.write_text("image,score,rank\na.jpg,7.5,1\n")
    argv = ["export", "--ranking", str(ranking), "--images", str(album), "--dest", str(tmp_path / "out")]
    assert main([*argv, "--top", "1", "--mode", "jpeg", "--long-edge", "200", "-q"]) == 0
    with Image.open(tmp_path / "out" / "a.jpg") as shared:
        assert shared.size == (200, 150)
