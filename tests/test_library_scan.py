"""Scanning a generated album: formats, bad files, thumbnails, and re-scans after changes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from aesthetic_curator.errors import CuratorError
from aesthetic_curator.images import decode_image, decode_image_scaled
from aesthetic_curator.library import scanner
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.scanner import folder_listing, scan_album
from aesthetic_curator.library.store import Library
from aesthetic_curator.library.thumbnails import ThumbnailCache, ThumbnailRequest
from tests.album_factory import heif_available, make_album


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    root.mkdir()
    return root, make_album(root)


@pytest.fixture
def library(album, tmp_path):
    root, _ = album
    with Library(tmp_path / "lib.sqlite3", root) as lib:
        yield lib


def test_scan_finds_every_format_and_reports_bad_files(album):
    root, made = album
    result = scan_album(root)
    found = {f.relpath for f in result.files}
    assert set(made["good"]) <= found
    assert not {".hidden.jpg", "notes.txt"} & found
    counts = result.counts_by_format()
    for fmt, rels in made["by_format"].items():
        assert counts[fmt] >= len(rels)
    problems = {p.path: p.reason for p in result.problems}
    assert problems["bad/zero.jpg"] == "empty file"
    assert "broken link" in problems["bad/broken-link.jpg"]
    assert "symlink loop" in problems["bad/loop"]
    assert result.ignored == 1  # notes.txt


def test_unreadable_files_and_folders_are_reported_not_fatal(album, monkeypatch):
    root, _ = album
    os.mkfifo(root / "bad" / "pipe.jpg")  # not a regular file: must not block the scan
    real_scandir, real_open = os.scandir, Path.open

    def scandir(path):
        if Path(path).name == "tiff":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    def open_(self, *args, **kwargs):
        if self.name == "pic.webp":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr("aesthetic_curator.library.scanner.os.scandir", scandir)
    monkeypatch.setattr(Path, "open", open_)
    problems = {p.path: p.reason for p in scan_album(root).problems}
    assert problems["tiff"] == "cannot read folder: Permission denied"
    assert problems["web/pic.webp"] == "cannot read file: Permission denied"
    assert problems["bad/pipe.jpg"] == "not a regular file"


@pytest.mark.skipif(not heif_available(), reason="pillow-heif has no HEIF encoder on this platform")
def test_heic_is_scanned_and_decoded(album, tmp_path):
    root, made = album
    cache = ThumbnailCache(tmp_path / "thumbs", size=32)
    rel = made["by_format"]["HEIF"][0]
    st = (root / rel).stat()
    assert cache.get(ThumbnailRequest(root / rel, "h", st.st_size, st.st_mtime_ns)).ok


def test_camera_raw_is_developed_by_libraw(album):
    """A DNG without an embedded preview goes through LibRaw's development path."""
    root, made = album
    image = decode_image(root / made["by_format"]["RAW"][0], min_size=16)
    assert image.mode == "RGB" and image.size == (48, 32)  # half-size development
    left, right = image.getpixel((5, 16)), image.getpixel((40, 16))
    assert sum(left) < sum(right)  # the darker half of the mosaic stays darker


def test_index_makes_thumbnails_and_lists_undecodable_photos_once(library, album, tmp_path):
    root, made = album
    cache = ThumbnailCache(tmp_path / "thumbs", size=64)
    first = index_album(library, thumbnails=cache, workers=2)
    assert len(first.sync.added) == len(first.scan.files)
    unreadable = dict(first.unreadable)
    assert set(made["decode"]) == set(unreadable)
    assert "decompression bomb" in unreadable["bad/bomb.png"]
    assert "not a recognised image format" in unreadable["bad/text.png"]
    assert first.thumbnails_made == len(first.scan.files)
    second = index_album(library, thumbnails=cache, workers=2)
    assert second.thumbnails_made == 0 and second.thumbnails_cached == len(first.scan.files)
    assert dict(second.unreadable) == unreadable  # remembered, not retried
    rotated = library.photo("2024/rotated.jpg")
    thumb = cache.lookup(ThumbnailRequest(root / rotated.relpath, rotated.content_hash, rotated.size, rotated.mtime_ns))
    with Image.open(thumb.path) as img:
        assert img.height > img.width  # EXIF orientation applied: portrait
        top = img.convert("RGB").getpixel((img.width // 2, 2))
        assert top[2] > 150 and top[0] < 100  # the blue half is on top after rotation


def test_rescan_notices_added_removed_renamed_and_edited(library, album, tmp_path):
    root, _ = album
    index_album(library)
    beach = library.photo("2024/summer/beach.jpg")
    library.set_rating(beach.id, stars=4)
    before_hash = library.photo("png/alpha.png").content_hash

    (root / "2024/summer/beach.jpg").rename(root / "2024/beach-renamed.jpg")  # move + rename
    os.remove(root / "old/scan.bmp")
    Image.new("RGBA", (40, 30), (0, 0, 255, 255)).save(root / "png/alpha.png")  # edited in place
    shutil.copy(root / "web/pic.webp", root / "web/new.webp")  # added (a copy: the original stays)

    report = index_album(library).sync
    assert report.moved == [("2024/summer/beach.jpg", "2024/beach-renamed.jpg")]
    assert report.removed == ["old/scan.bmp"]
    assert report.changed == ["png/alpha.png"]
    assert report.added == ["web/new.webp"]
    moved = library.photo("2024/beach-renamed.jpg")
    assert moved.id == beach.id and library.ratings()[beach.id].stars == 4  # identity and rating survive
    assert library.photo("png/alpha.png").content_hash != before_hash
    assert library.photo("old/scan.bmp").missing


def test_thumbnail_key_changes_when_the_file_is_edited(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs", size=32)
    path = tmp_path / "p.jpg"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(path)
    a = cache.get(ThumbnailRequest(path, "hash-a", 1, 1))
    b = cache.get(ThumbnailRequest(path, "hash-b", 1, 1))
    assert a.path != b.path and a.ok and b.ok


def test_thumbnail_cache_is_bounded(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs", size=64, max_bytes=6_000)
    requests = []
    for i in range(30):
        path = tmp_path / f"n{i}.png"
        Image.effect_noise((128, 128), 60).convert("RGB").save(path)
        requests.append(ThumbnailRequest(path, f"h{i}", i, i))
    cache.generate(requests, workers=2)
    assert cache.total_bytes() <= 6_000


def test_livec_sample_scanned_end_to_end(livec, tmp_path, capsys):
    from aesthetic_curator.cli import main

    assert main(["scan", str(livec), "-q"]) == 0
    out = capsys.readouterr().out
    assert "400 photos" in out and "JPEG 400" in out and "thumbnails: 400 made" in out
    assert main(["scan", str(livec), "-q"]) == 0
    assert "400 unchanged" in capsys.readouterr().out


def test_thumbnail_generation_and_scan_can_be_cancelled(tmp_path):
    from aesthetic_curator.errors import Cancelled
    from aesthetic_curator.progress import CancelToken

    token = CancelToken()
    requests = []
    for i in range(40):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (64, 64), (i, 0, 0)).save(path)
        requests.append(ThumbnailRequest(path, f"h{i}", i, i))

    def stop_early(progress):
        if progress.done >= 3:
            token.cancel()

    cache = ThumbnailCache(tmp_path / "thumbs", size=16)
    with pytest.raises(Cancelled):
        cache.generate(requests, workers=1, progress=stop_early, cancel=token)
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) < 40
    with pytest.raises(Cancelled):
        scan_album(tmp_path, cancel=token)


def test_scan_without_hashes_skips_hidden_and_non_images(tmp_path):
    (tmp_path / "a" / ".hidden").mkdir(parents=True)
    for rel in ("a/x.JPG", "a/.hidden/y.jpg", ".z.png", "b.txt", "c.png"):
        (tmp_path / rel).write_bytes(b"x")
    result = scan_album(tmp_path, with_hashes=False)
    assert sorted(f.relpath for f in result.files) == ["a/x.JPG", "c.png"]
    assert {f.content_hash for f in result.files} == {""}


class _FakeRaw:
    """What rawpy.imread hands back, for a RAW whose embedded preview is ``preview`` (JPEG bytes) and whose
    container says the camera was held ``flip`` (LibRaw: 6 = turned 90° clockwise)."""

    def __init__(self, preview: bytes, flip: int) -> None:
        self.data, self.sizes = preview, type("Sizes", (), {"flip": flip})()

    def extract_thumb(self):
        import rawpy

        return type("Thumb", (), {"format": rawpy.ThumbFormat.JPEG, "data": self.data})()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _preview_bytes(orientation: int | None, size: tuple[int, int] = (60, 40)) -> bytes:
    """A landscape preview, left half dark, with or without an EXIF orientation of its own."""
    import io

    image = Image.new("RGB", size, (230, 230, 230))
    image.paste((10, 10, 10), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_raw_preview_is_turned_as_the_camera_was_held(tmp_path, monkeypatch):
    """Many cameras store the embedded preview as the sensor saw it: a portrait shot must not show on its side
    (nor be scored so). The container's orientation turns it, unless the preview carries its own."""
    import rawpy

    raw = tmp_path / "IMG_0001.CR2"
    raw.write_bytes(b"stand-in: rawpy.imread is replaced")
    for preview_orientation, flip, size, dark_corner in (
        (None, 6, (40, 60), (5, 5)),  # turned clockwise: the dark left half is now on top
        (None, 5, (40, 60), (5, 55)),  # counter-clockwise: at the bottom
        (None, 3, (60, 40), (55, 5)),  # upside down: on the right
        (None, 0, (60, 40), (5, 5)),
        (6, 6, (40, 60), (5, 5)),  # the preview's own orientation, applied once, not twice
    ):
        fake = _FakeRaw(_preview_bytes(preview_orientation), flip)
        monkeypatch.setattr(rawpy, "imread", lambda path, fake=fake: fake)
        image = decode_image(raw)
        assert image.size == size and sum(image.getpixel(dark_corner)) < 100, (preview_orientation, flip)
    fake = _FakeRaw(_preview_bytes(None, (1600, 1200)), 6)
    monkeypatch.setattr(rawpy, "imread", lambda path, fake=fake: fake)
    image, scale = decode_image_scaled(raw, min_size=256)  # a thumbnail: the preview reduced by DCT scaling
    assert (image.size, scale) == ((300, 400), 4.0)
    assert decode_image_scaled(raw)[0].size == (1200, 1600)


def test_raw_thumbnails_made_before_previews_were_turned_upright_are_made_again(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs", size=64)
    jpeg, raw = (ThumbnailRequest(tmp_path / name, "hash", 10, 1) for name in ("a.jpg", "a.NEF"))
    old_key = cache.key(jpeg)  # what a RAW's key was: the same text as any photo's
    other_raw = ThumbnailRequest(tmp_path / "b.nef", "hash", 10, 1)
    assert cache.key(raw) != old_key and cache.key(raw) == cache.key(other_raw)


def _age(path: Path, seconds: float) -> None:
    """Make ``path`` look written ``seconds`` ago (its mtime: ctime cannot be set, so other tests move the clock)."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_photos_still_being_copied_wait_for_a_later_scan_and_known_ones_keep_their_record(tmp_path, monkeypatch):
    root = tmp_path / "album"
    root.mkdir()
    for name, colour in (("old.jpg", (90, 120, 200)), ("DSC_1.NEF", (200, 20, 20))):
        Image.new("RGB", (40, 30), colour).save(root / name, "JPEG")
    with Library(tmp_path / "lib.sqlite3", root) as library:
        assert index_album(library).sync.added == ["DSC_1.NEF", "old.jpg"]
        library.set_rating(library.photo("old.jpg").id, stars=5)
        raw_id = library.photo("DSC_1.NEF").id
        shutil.copy(root / "old.jpg", root / "new.jpg")  # arriving now
        shutil.copy(root / "old.jpg", root / "DSC_1.JPG")  # the lone RAW's JPEG arriving: the pair waits whole
        with (root / "old.jpg").open("ab") as fh:  # a known photo being rewritten in place
            fh.write(b"\0")
        real_ctime_now = time.time_ns()
        monkeypatch.setattr(scanner.time, "time_ns", lambda: real_ctime_now)

        report = index_album(library, settle_seconds=30)
        assert sorted(report.scan.unsettled) == ["DSC_1.JPG", "DSC_1.NEF", "new.jpg", "old.jpg"]
        assert not report.sync.any_change and report.scan.files == []
        assert not library.photo("old.jpg").missing and library.ratings()[library.photo("old.jpg").id].stars == 5
        assert not library.photo("DSC_1.NEF").missing

        # later: the same files, now settled (the clock moved on past the settle time)
        monkeypatch.setattr(scanner.time, "time_ns", lambda: real_ctime_now + 60 * 10**9)
        later = index_album(library, settle_seconds=30)
        assert later.scan.unsettled == []
        assert sorted(later.sync.added) == ["DSC_1.JPG", "new.jpg"] and later.sync.changed == ["old.jpg"]
        assert later.sync.paired == [("DSC_1.NEF", "DSC_1.JPG")]
        assert library.photo("DSC_1.JPG").id != raw_id and library.ratings()[library.photo("old.jpg").id].stars == 5


def test_a_file_time_ahead_of_this_clock_does_not_wait_forever(tmp_path):
    (tmp_path / "share.jpg").write_bytes(b"x")
    _age(tmp_path / "share.jpg", -3600)  # a network share's clock an hour ahead
    (tmp_path / "fresh.jpg").write_bytes(b"x")
    result = scan_album(tmp_path, settle_seconds=30)
    assert [f.relpath for f in result.files] == ["share.jpg"] and result.unsettled == ["fresh.jpg"]
    assert [f.relpath for f in scan_album(tmp_path).files] == ["fresh.jpg", "share.jpg"]  # no settle time: all


def test_the_folder_listing_a_watcher_compares_names_photos_and_subfolders_only(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".thumbs").mkdir()
    for name in ("a.JPG", "b.nef", "a.JPG.xmp", "notes.txt", ".a.jpg.part", "Thumbs.db"):
        (tmp_path / name).write_bytes(b"x")
    assert folder_listing(tmp_path) == {"a.JPG", "b.nef", "sub/"}
    assert folder_listing(tmp_path / "gone") == frozenset()


def test_an_album_folder_that_cannot_be_reached_is_refused_and_its_photos_are_not_marked_missing(library, album):
    root, _ = album
    index_album(library)
    count = len(library.photos())
    library.set_rating(library.photos()[0].id, stars=3)
    moved_away = root.with_name("unplugged")
    root.rename(moved_away)  # as a card or drive taken out while the album is open
    with pytest.raises(CuratorError, match="cannot be reached"):
        index_album(library)
    assert len(library.photos()) == count and len(library.ratings()) == 1
    moved_away.rename(root)
    assert not index_album(library).sync.any_change
