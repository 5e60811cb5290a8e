"""Bad input, one test per cause: every file here is generated, and each case once broke a whole album.

What must hold: the bad item is reported and skipped (or refused with one clear message), the rest
of the album goes on, and no original is ever modified.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from aesthetic_curator.cli import main
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.errors import CuratorError, ImageDecodeError, RatingsError
from aesthetic_curator.images import decode_image
from aesthetic_curator.library import export as export_module
from aesthetic_curator.library import xmp
from aesthetic_curator.library.album import import_xmp_ratings, index_album
from aesthetic_curator.library.export import RankedPhoto, export_photos, read_ranking_csv
from aesthetic_curator.library.store import Library, library_path_for
from aesthetic_curator.library.thumbnails import STALE_TEMPORARY_SECONDS, ThumbnailCache
from aesthetic_curator.ratings_file import read_ratings_csv

SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""

LATIN1_NAME = os.fsdecode(b"caf\xe9.jpg")  # a name that is not UTF-8, as old cameras and shares write


def _photo(path: Path, colour=(120, 80, 40), size=(48, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="JPEG", quality=90)
    return path


def _checksums(folder: Path) -> dict[str, str]:
    files = (p for p in folder.rglob("*") if p.is_file())
    return {os.fsencode(str(p)).hex(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _damaged_exif_jpeg() -> bytes:
    """A JPEG whose EXIF block Pillow's exif_transpose cannot re-serialise (found by a seeded search over
    1-8-byte corruptions, the way such files come out of a flaky card)."""
    img = Image.new("RGB", (64, 48), (200, 100, 50))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera maker"
    exif[0x0110] = "Model X"
    exif[0x0131] = "software 1.0"
    exif[0x0132] = "2024:01:01 10:00:00"
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    start = data.index(b"Exif\x00\x00") + 6
    length = int.from_bytes(data[start - 8 : start - 6], "big") - 8
    rng = random.Random(0)
    for _ in range(5000):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[start + rng.randrange(length)] = rng.randrange(256)
        try:
            with Image.open(io.BytesIO(bytes(damaged))) as probe:
                probe.load()
                ImageOps.exif_transpose(probe)
        except (OSError, ValueError, SyntaxError):
            continue  # Pillow's ordinary refusals, always handled
        except Exception:
            return bytes(damaged)
    pytest.skip("this Pillow re-serialises every damaged EXIF block")


# -- 1. one decode guard ------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_damaged_exif_block_costs_nothing_and_stops_nothing(tmp_path):
    album = tmp_path / "album"
    bad = album / "damaged-exif.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(_damaged_exif_jpeg())
    _photo(album / "fine.jpg")
    image = decode_image(bad)  # the pixels are fine: the photo is kept, upright or as stored
    assert image.mode == "RGB" and sorted(image.size) == [48, 64]
    with Library.open_for_album(album) as library:
        summary = index_album(library, thumbnails=ThumbnailCache(tmp_path / "thumbs"), workers=2)
        assert len(summary.scan.files) == 2 and summary.unreadable == []


def test_any_decoder_exception_becomes_a_skip_with_its_reason(tmp_path, monkeypatch):
    import aesthetic_curator.images as images

    path = _photo(tmp_path / "x.jpg")

    def explode(img):
        raise TypeError("unsupported operand in an IFD")

    monkeypatch.setattr(images, "_finish", explode)
    with pytest.raises(ImageDecodeError, match="TypeError: unsupported operand"):
        decode_image(path)


# -- 2. names that are not UTF-8 -------------------------------------------------------------------------------


def test_a_latin1_file_name_is_indexed_ranked_and_exported(tmp_path, test_bundle, capsys):
    album = tmp_path / "album"
    for index in range(3):
        _photo(album / f"ok{index}.jpg", colour=(40 * index, 90, 200))
    _photo(album / LATIN1_NAME, colour=(250, 250, 10))
    before = _checksums(album)
    with Library.open_for_album(album) as library:
        index_album(library)
        names = {p.relpath for p in library.photos()}
        assert LATIN1_NAME in names and len(names) == 4
        photo = library.photo(LATIN1_NAME)
        assert library.absolute_path(photo).is_file()
        library.set_rating(photo.id, stars=5)
        assert [p for p, _ in library.training_ratings()] == [album.resolve() / LATIN1_NAME]
    with Library.open_for_album(album) as again:  # survives a re-open and a re-scan unchanged
        assert index_album(again).sync.unchanged == 4

    profile = tmp_path / "p.profile"
    ratings = tmp_path / "ratings.csv"
    with ratings.open("w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        csv.writer(fh).writerows([("image", "rating"), (LATIN1_NAME, 5), ("ok0.jpg", 1), ("ok1.jpg", 3)])
    assert read_ratings_csv(ratings, album)[0][0] == album / LATIN1_NAME
    ranking = tmp_path / "ranking.csv"
    args = ["--bundle", str(test_bundle.path), "--images", str(album), "-q", "--device", "cpu"]
    from aesthetic_curator.engine import Profile

    Profile(
        alpha=__import__("torch").full((len(test_bundle.tasks), len(test_bundle.layers)), 0.2),
        bundle_id=test_bundle.bundle_id,
        task_names=test_bundle.task_names,
        n_layers=len(test_bundle.layers),
        k=3,
        temperature=0.1,
        zero_shot_srocc={},
        train_srocc=0.0,
    ).save(profile)
    assert main(["rank", *args, "--profile", str(profile), "--out", str(ranking)]) == 0
    assert LATIN1_NAME in {r.relpath for r in read_ranking_csv(ranking)}
    export = ["export", "--ranking", str(ranking), "--images", str(album), "--top", "4"]
    assert main([*export, "--dest", str(tmp_path / "best")]) == 0
    assert (tmp_path / "best" / LATIN1_NAME).is_file()
    assert main([*export, "--dest", "x", "--dry-run"]) == 0
    assert "caf" in capsys.readouterr().out  # printed as an escape, not a crash
    assert _checksums(album) == before


# -- 3 and 12. XMP ratings that are out of range, not numbers, or in broken sidecars -------------------------------


@pytest.mark.parametrize("value", ["inf", "1e999", "-inf", "nan", "99", "-5", "2.5", "four"])
def test_invalid_xmp_ratings_are_reported_not_coerced(tmp_path, value):
    album = tmp_path / "album"
    _photo(album / "a.jpg")
    (album / "a.jpg.xmp").write_text(SIDECAR.format(rating=value), encoding="utf-8")
    _photo(album / "b.jpg", colour=(1, 2, 3))
    (album / "b.jpg.xmp").write_text(SIDECAR.format(rating=4), encoding="utf-8")
    with Library.open_for_album(album) as library:
        index_album(library)
        outcome = import_xmp_ratings(library)
        assert outcome.imported == 1  # b.jpg; a.jpg's value is not turned into stars
        assert [path for path, _ in outcome.problems] == ["a.jpg"]
        assert value in outcome.problems[0][1]
        ratings = library.ratings()
        assert [r.stars for r in ratings.values()] == [4]


def test_broken_sidecar_is_reported_and_the_embedded_or_next_source_is_used(tmp_path, capsys):
    album = tmp_path / "album"
    _photo(album / "a.jpg")
    (album / "a.jpg.xmp").write_bytes(b"\x00\x01 this is not XMP <rdf:RDF")
    assert main(["scan", str(album), "--import-xmp", "--no-thumbnails", "-q"]) == 0
    err = capsys.readouterr().err
    assert "a.jpg.xmp" in err and "unreadable XMP sidecar" in err


def test_valid_xmp_values_still_import(tmp_path):
    for value, expected in [("-1", (None, True)), ("0", None), ("5", (5, False)), ("3.0", (3, False))]:
        (tmp_path / "p.jpg.xmp").write_text(SIDECAR.format(rating=value), encoding="utf-8")
        _photo(tmp_path / "p.jpg")
        rating = xmp.read_rating(tmp_path / "p.jpg")
        assert (None if rating is None else (rating.stars, rating.rejected)) == expected


# -- 4. long names ---------------------------------------------------------------------------------------------


def _long_name(total_bytes: int, suffix: str = ".jpg") -> str:
    return "n" * (total_bytes - len(suffix)) + suffix


@pytest.mark.parametrize("length", [241, 250, 255])
def test_long_file_names_import_xmp_and_export_in_every_mode(tmp_path, length):
    album = tmp_path / "album"
    name = _long_name(length)
    _photo(album / name)
    _photo(album / "short.jpg", colour=(9, 9, 9))
    before = _checksums(album)
    with Library.open_for_album(album) as library:
        index_album(library)
        assert import_xmp_ratings(library).problems == []
    ranking = [RankedPhoto(name, 9.0, 1), RankedPhoto("short.jpg", 1.0, 2)]
    for mode, write_xmp in [("copy", False), ("hardlink", False), ("copy", True), ("jpeg", True)]:
        dest = tmp_path / f"{mode}-{write_xmp}"
        result = export_photos(ranking, album, dest, top=2, mode=mode, write_xmp=write_xmp)
        assert result.written == 2, result.problems
        exported = {p.name for p in dest.iterdir() if p.suffix == ".jpg"}
        assert len(exported) == 2 and all(len(os.fsencode(n)) <= 251 for n in exported)
        if write_xmp:
            assert len(list(dest.glob("*.xmp"))) == 2
        assert not list(dest.glob(".*"))
    assert _checksums(album) == before


def test_album_folder_with_a_long_name_opens(tmp_path):
    album = tmp_path / ("a" * 240)
    _photo(album / "x.jpg")
    with Library.open_for_album(album) as library:
        assert len(index_album(library).scan.files) == 1
    assert len(os.fsencode(library_path_for(album).name + "-wal")) <= 255


# -- 5. paths from files stay inside the album ------------------------------------------------------------------


@pytest.mark.parametrize("outside", ["/etc/passwd", "../secret.jpg", "a/../../secret.jpg"])
def test_export_refuses_paths_outside_the_album(tmp_path, outside):
    album = tmp_path / "album"
    _photo(album / "a" / "x.jpg")
    _photo(tmp_path / "secret.jpg")
    dest = tmp_path / "dest"
    ranking = [RankedPhoto("a/x.jpg", 2.0, 1), RankedPhoto(outside, 1.0, 2)]
    with pytest.raises(CuratorError, match="not a photo inside"):
        export_photos(ranking, album, dest, top=2)
    assert not dest.exists() or not any(dest.iterdir())


@pytest.mark.parametrize("outside", ["../secret.jpg", str(Path("/etc/passwd"))])
def test_ratings_outside_the_album_are_refused(tmp_path, outside):
    album = tmp_path / "album"
    _photo(album / "x.jpg")
    _photo(tmp_path / "secret.jpg")
    ratings = tmp_path / "r.csv"
    ratings.write_text(f"image,rating\nx.jpg,1\n{outside},5\n", encoding="utf-8")
    with pytest.raises(RatingsError, match="not a photo inside"):
        read_ratings_csv(ratings, album)


# -- 7 and 9. export: a broken sidecar, a vanished photo, a bad destination ---------------------------------------


def test_unparseable_sidecar_does_not_stop_an_xmp_export(tmp_path):
    album = tmp_path / "album"
    for index in range(4):
        _photo(album / f"p{index}.jpg", colour=(index * 50, 10, 10))
    (album / "p1.jpg.xmp").write_bytes(b"<x:xmpmeta broken")
    ranking = [RankedPhoto(f"p{i}.jpg", 4.0 - i, i + 1) for i in range(4)]
    result = export_photos(ranking, album, tmp_path / "dest", top=4, write_xmp=True)
    assert result.written == 4
    assert any("p1.jpg" in problem and "stars not written" in problem for problem in result.problems)
    assert len(read_ranking_csv(result.ranking_csv)) == 4


def test_photo_that_vanished_after_ranking_is_skipped_with_a_note(tmp_path, capsys):
    album = tmp_path / "album"
    for index in range(3):
        _photo(album / f"p{index}.jpg")
    ranking = tmp_path / "ranking.csv"
    ranking.write_text("image,score,rank\np0.jpg,3,1\np1.jpg,2,2\np2.jpg,1,3\n", encoding="utf-8")
    (album / "p1.jpg").unlink()
    export = ["export", "--ranking", str(ranking), "--images", str(album), "--top", "3"]
    assert main([*export, "--dest", str(tmp_path / "d")]) == 0
    assert "p1.jpg (rank 2) no longer exists; skipped" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "d").glob("*.jpg")) == ["p0.jpg", "p2.jpg"]


def test_bad_destinations_are_one_line_errors(tmp_path, capsys):
    album = tmp_path / "album"
    _photo(album / "p.jpg")
    ranking = tmp_path / "ranking.csv"
    ranking.write_text("image,score,rank\np.jpg,3,1\n", encoding="utf-8")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for dest in (a_file, a_file / "below"):
        code = main(["export", "--ranking", str(ranking), "--images", str(album), "--top", "1", "--dest", str(dest)])
        err = capsys.readouterr().err
        assert code in (1, 2) and err.startswith("aesthetic-curator: error:") and "Traceback" not in err
        assert err.count("\n") == 1


# -- 8. extreme aspect ratios --------------------------------------------------------------------------------------


def test_extreme_aspect_ratio_is_cropped_before_it_is_resized(tmp_path, monkeypatch):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (60000, 1), (10, 200, 30)).save(strip)
    requested: list[tuple[int, int]] = []
    real_resize = Image.Image.resize

    def spy(self, size, *args, **kwargs):
        requested.append(tuple(size))
        return real_resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", spy)
    tensor = Preprocessor(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)).load(strip)
    assert tuple(tensor.shape) == (3, 224, 224)
    assert max(max(size) for size in requested) <= 224  # never the 13-megapixel-wide intermediate


def test_cropping_first_gives_the_same_pixels_as_resizing_first(tmp_path):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (300, 500, 3), dtype=np.uint8))
    photo = noise.filter(ImageFilter.GaussianBlur(3))  # photo-like: no pixel-to-pixel noise
    size = 224
    scale = size / 300
    width = round(500 * scale)
    left = (width - size) // 2
    reference = photo.resize((width, size), Image.Resampling.BICUBIC).crop((left, 0, left + size, size))
    ours = Preprocessor(size, (0.0,) * 3, (1.0,) * 3)(photo).permute(1, 2, 0).numpy() * 255
    difference = np.abs(ours - np.asarray(reference, dtype=np.float32))
    assert difference.mean() < 0.5 and difference.max() <= 4  # a sub-pixel phase difference at most


# -- 10. a rerun finishes an interrupted export --------------------------------------------------------------------


def test_rerun_of_an_interrupted_export_finishes_it_without_duplicates(tmp_path, monkeypatch):
    album = tmp_path / "album"
    for index in range(6):
        _photo(album / ("a" if index % 2 else "b") / f"IMG_{index % 3}.jpg", colour=(index * 40, 20, 20))
    photos = sorted(p.relative_to(album).as_posix() for p in album.rglob("*.jpg"))
    ranking = [RankedPhoto(rel, 10.0 - i, i + 1) for i, rel in enumerate(photos)]
    dest = tmp_path / "dest"
    real_copy = shutil.copy2
    calls = {"n": 0}

    def dying_copy(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            Path(dst).write_bytes(b"half")
            raise KeyboardInterrupt  # the user closed the terminal mid-file
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(export_module.shutil, "copy2", dying_copy)
    with pytest.raises(KeyboardInterrupt):
        export_photos(ranking, album, dest, top=6)
    (dest / ".aecur-0123456789ab.aecur-partial").write_bytes(b"left by a kill -9")
    monkeypatch.setattr(export_module.shutil, "copy2", real_copy)
    result = export_photos(ranking, album, dest, top=6)
    assert result.resumed == 3 and result.written == 6
    names = sorted(p.name for p in dest.iterdir())
    expected = [f"IMG_{i}{twice}.jpg" for i in range(3) for twice in ("", " (2)")]
    assert names == sorted([*expected, "ranking.csv"])
    again = export_photos(ranking, album, dest, top=6)  # a third run changes nothing
    assert again.resumed == 6 and sorted(p.name for p in dest.iterdir()) == names
    sources = {i.target.name: i.source.read_bytes() for i in again.items}
    assert all((dest / name).read_bytes() == data for name, data in sources.items())


# -- 11. thumbnail temporaries of a killed scan -------------------------------------------------------------------


def test_stale_thumbnail_temporaries_are_removed_and_fresh_ones_kept(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs")
    (cache.root / "ab").mkdir()
    stale, fresh = cache.root / "ab" / ".tmp-stale", cache.root / "ab" / ".tmp-fresh"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"x")
    old = time.time() - STALE_TEMPORARY_SECONDS - 60
    os.utime(stale, (old, old))
    cache.enforce_limit()
    assert not stale.exists() and fresh.exists()


# -- 13. float TIFFs -------------------------------------------------------------------------------------------


def test_float_tiff_in_zero_to_one_is_not_decoded_black(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    gradient = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (16, 1))
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, gradient)
    pixels = np.asarray(decode_image(path))
    assert pixels.shape == (16, 64, 3)
    assert pixels[:, -1].min() >= 250 and pixels[:, 0].max() <= 5 and 100 < pixels.mean() < 155


# -- 14. ratings CSV: the same photo spelt twice, huge finite values -------------------------------------------


def test_ratings_of_one_photo_spelt_two_ways_are_a_duplicate(tmp_path):
    album = tmp_path / "album"
    _photo(album / "good" / "x.jpg")
    _photo(album / "good" / "y.jpg")
    ratings = tmp_path / "r.csv"
    ratings.write_text("image,rating\ngood/x.jpg,1\ngood/y.jpg,2\ngood/../good/x.jpg,5\n", encoding="utf-8")
    with pytest.raises(RatingsError, match="rated twice"):
        read_ratings_csv(ratings, album)


def test_huge_finite_ratings_keep_their_order():
    from aesthetic_curator.engine.personalize import validate_ratings

    values = [1e308, -1e308, 1.7e308, 0.0, 1e9, 1e9 + 1, 5, 5, 3, 2]
    ranks = validate_ratings(values)
    assert ranks.isfinite().all()
    order = np.argsort(values, kind="stable")
    assert (np.diff(ranks.numpy()[order]) >= 0).all()
    assert ranks[4] < ranks[5]  # 1e9 and 1e9 + 1 stay different, as float32 would not keep them
    assert ranks[6] == ranks[7]  # ties stay ties


# -- 9. the library database --------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, "wrong-schema"])
def test_damaged_or_foreign_library_database_is_one_clear_error(tmp_path, content, capsys):
    import sqlite3

    album = tmp_path / "album"
    _photo(album / "x.jpg")
    db = library_path_for(album)
    db.parent.mkdir(parents=True, exist_ok=True)
    if content == "wrong-schema":
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
            connection.execute("PRAGMA user_version = 1")
    else:
        db.write_bytes(content)
    try:
        with pytest.raises(CuratorError, match="move it away"):
            Library.open_for_album(album)
        assert main(["scan", str(album), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("aesthetic-curator: error:") and "Traceback" not in err
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
