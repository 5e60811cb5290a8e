"""Burst grouping: capture times from EXIF (or the file), perceptual hashes, and made-up bursts of real photos."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance

from aesthetic_curator.bursts import (
    BURST_GAP_SECONDS,
    Bursts,
    _parse_exif_time,
    album_bursts,
    group_bursts,
    read_moment,
)
from aesthetic_curator.library.album import index_album
from aesthetic_curator.library.photo_features import PhotoMoment
from aesthetic_curator.library.store import Library
from tests.album_factory import write_raw_with_exif

BASE_TIME = "2024:06:01 12:00:00"


def test_exif_times_with_sub_seconds_and_blank_ones():
    assert _parse_exif_time("2024:06:01 12:00:05", "25") - _parse_exif_time(BASE_TIME) == pytest.approx(5.25)
    assert _parse_exif_time("2024:06:01 12:00:05\x00") == _parse_exif_time("2024:06:01 12:00:05")
    assert _parse_exif_time("    :  :     :  :  ") is None and _parse_exif_time(None) is None


def _moment(pid: int, taken: float, phash: int | None) -> PhotoMoment:
    return PhotoMoment(pid, taken, "exif", phash)


def test_grouping_needs_both_time_and_content():
    a, b = 0x0F0F_0F0F_0F0F_0F0F, 0xF0F0_F0F0_F0F0_F0F0
    moments = [
        _moment(1, 0.0, a),
        _moment(2, 0.5, a ^ 0b111),  # 3 bits off, half a second later: same burst
        _moment(3, 0.5, b),  # same time, other content: not in it
        _moment(4, 0.5 + BURST_GAP_SECONDS + 0.1, a),  # same content, too late: a burst of its own ...
        _moment(5, 0.6 + BURST_GAP_SECONDS + 0.1, a),  # ... with this one
        _moment(6, 1.0, None),  # unreadable: never grouped
    ]
    assert group_bursts(moments).groups == [[1, 2], [4, 5]]


def test_a_500_frame_burst_is_one_group_and_identical_times_stay_apart():
    rng = random.Random(0)
    base = rng.getrandbits(64)
    burst = [_moment(i, i * 0.1, base ^ (1 << rng.randrange(64))) for i in range(500)]
    assert [len(g) for g in group_bursts(burst).groups] == [500]
    same_second = [_moment(1000 + i, 7.0, rng.getrandbits(64)) for i in range(300)]  # copies sharing a file time
    assert group_bursts(same_second).groups == []


def test_the_best_of_a_burst_follows_the_profile_then_the_stars():
    bursts = Bursts([[1, 2, 3], [7, 8]])
    assert bursts.best([1, 2, 3], {1: 9, 2: 4, 3: 6}) == 2
    assert bursts.best([1, 2, 3], {}, {3: 5.0}) == 3 and bursts.best([1, 2, 3], {}) == 1
    assert bursts.hidden_by_best({2: 1, 8: 2}) == {1, 3, 7}
    assert bursts.members(2) == [1, 2, 3] and bursts.members(42) == [42]


def _exif(time_text: str, subsec: str = "") -> Image.Exif:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = time_text
    if subsec:
        ifd[0x9291] = subsec
    return exif


def _variants(image: Image.Image) -> list[Image.Image]:
    """What a burst's next frames look like: shifted, re-compressed, brighter, slightly turned."""
    w, h = image.size
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    return [
        image.crop((int(0.03 * w), 0, w, h)),
        Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"),
        ImageEnhance.Brightness(image).enhance(1.15),
        image.rotate(2, resample=Image.Resampling.BICUBIC),
    ]


@pytest.fixture
def burst_album(tmp_path: Path, livec: Path):
    """Six real photos, each with a 4-frame burst at 0.25 s steps (EXIF with sub-seconds), all at the same
    second of the clock; two more photos without EXIF whose copies share their file time."""
    root = tmp_path / "bursts"
    root.mkdir()
    sources = sorted((livec / "images").glob("*"))[:8]
    expected: list[set[str]] = []
    for n, source in enumerate(sources[:6]):
        image = Image.open(source).convert("RGB")
        frames = [image, *_variants(image)]
        names = {f"b{n}_{k}.jpg" for k in range(len(frames))}
        for k, frame in enumerate(frames):
            frame.save(root / f"b{n}_{k}.jpg", quality=92, exif=_exif(BASE_TIME, f"{25 * k:02d}"))
        expected.append(names)
    stamp = 1_700_000_000
    for n, source in enumerate(sources[6:], start=6):
        image = Image.open(source).convert("RGB")
        for k, frame in enumerate([image, _variants(image)[1]]):
            path = root / f"plain{n}_{k}.jpg"
            frame.save(path, quality=92)
            os.utime(path, (stamp, stamp))
        expected.append({f"plain{n}_0.jpg", f"plain{n}_1.jpg"})
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not an image")
    library = Library.open_for_album(root)
    index_album(library)
    yield library, expected
    library.close()


def test_made_up_bursts_of_real_photos_are_found_and_read_once(burst_album):
    library, expected = burst_album
    report = album_bursts(library)
    names = {p.id: Path(p.relpath).name for p in library.photos()}
    assert sorted(map(sorted, ({names[pid] for pid in g} for g in report.bursts.groups))) == sorted(
        map(sorted, expected)
    )
    assert report.read == len(names) and report.unreadable == 1 and report.from_file_time == 5
    again = album_bursts(library)
    assert again.read == 0 and again.bursts.groups == report.bursts.groups


def test_a_photo_without_exif_gets_its_file_time_and_an_unreadable_one_no_hash(tmp_path: Path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (80, 60), (10, 200, 30)).save(path)
    moment = read_moment(1, path, 1_234_000_000_000)
    assert moment.source == "file" and moment.taken == 1234.0 and moment.phash is not None
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"nothing")
    assert read_moment(2, broken, 0).phash is None


def test_a_raw_file_is_placed_by_its_exif_time_not_its_file_time(tmp_path: Path):
    """RAW shooters' bursts: the shutter's time (exiv2 reads the DNG/CR2/NEF's EXIF), not the card copy's."""
    raw = write_raw_with_exif(tmp_path / "DSC_0002.DNG", taken="2024:06:01 12:00:05", subsec="5")
    moment = read_moment(3, raw, 1_234_000_000_000)
    assert moment.source == "exif" and moment.taken == pytest.approx(_parse_exif_time(BASE_TIME) + 5.5)
    assert moment.phash is not None
