"""Shooting details from EXIF, as the loupe shows them under a photo."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from aesthetic_curator.photo_exif import PhotoExif, describe, read_exif, shooting_details
from tests.album_factory import write_raw_with_exif, write_tiny_dng


def _with_exif(path: Path, settings: dict[int, object], model: str | None = "Canon EOS R5") -> Path:
    exif = Image.Exif()
    if model is not None:
        exif[0x0110] = model
    exif.get_ifd(0x8769).update(settings)
    Image.new("RGB", (40, 30), (90, 120, 150)).save(path, exif=exif)
    return path


def test_details_read_from_a_camera_jpeg(tmp_path: Path):
    path = _with_exif(
        tmp_path / "a.jpg",
        {
            0x829A: IFDRational(1, 250),
            0x829D: IFDRational(28, 10),
            0x8827: 400,
            0x920A: IFDRational(50, 1),
            0x9204: IFDRational(2, 3),  # exposure compensation, +2/3 EV
            0xA434: "RF50mm F1.2 L USM",
        },
    )
    assert shooting_details(path) == "1/250 s · f/2.8 · ISO 400 · +0.7 EV · 50 mm · RF50mm F1.2 L USM · Canon EOS R5"


def test_what_is_absent_or_nonsensical_is_left_out(tmp_path: Path):
    assert shooting_details(_with_exif(tmp_path / "b.jpg", {0x829D: IFDRational(8, 1)}, model=None)) == "f/8"
    several = _with_exif(tmp_path / "c.jpg", {0x8827: (640, 640), 0x829A: IFDRational(0, 0)}, model=None)
    assert shooting_details(several) == "ISO 640"  # the first of several ISO values; a 0/0 shutter is left out
    plain = tmp_path / "plain.png"
    Image.new("RGB", (10, 10)).save(plain)
    assert shooting_details(plain) == ""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe1 not an exif block")
    assert shooting_details(broken) == ""  # never an error: the photo itself is judged elsewhere
    assert shooting_details(tmp_path / "missing.nef") == ""
    not_raw = tmp_path / "garbage.cr2"
    not_raw.write_bytes(b"II*\x00 not really a raw file")
    assert read_exif(not_raw) == PhotoExif()  # exiv2 refuses it: no facts, no error


def test_a_camera_raw_file_is_read_through_exiv2(tmp_path: Path):
    """Pillow reads no RAW container; exiv2 reads a DNG's (and a CR2's, NEF's, ARW's…) EXIF."""
    path = write_raw_with_exif(tmp_path / "DSC_0001.DNG", taken="2024:06:01 12:30:05", subsec="25")
    exif = read_exif(path)
    assert (exif.taken, exif.taken_subsec, exif.model) == ("2024:06:01 12:30:05", "25", "Nikon Z 6_2")
    assert shooting_details(path) == "1/250 s · f/2.8 · ISO 400 · -0.3 EV · 50 mm · NIKKOR Z 50mm f/1.8 S · Nikon Z 6_2"
    plain = tmp_path / "plain.dng"
    write_tiny_dng(plain)
    assert shooting_details(plain) == "" and read_exif(plain).taken is None


def test_described_as_a_photographer_writes_them():
    assert describe(PhotoExif(exposure=1 / 8000, f_number=1.4, iso=100, focal_length=85.0, model="X-T5")) == (
        "1/8000 s · f/1.4 · ISO 100 · 85 mm · X-T5"
    )
    assert describe(PhotoExif(exposure=2.0, f_number=11.0, iso=3200, focal_length=23.7, model=" \x00")) == (
        "2 s · f/11 · ISO 3200 · 24 mm"
    )
    assert describe(PhotoExif(exposure=float(Fraction(1, 3)), f_number=0.0)) == "1/3 s"
    assert describe(PhotoExif(exposure_bias=-1.0)) == "-1 EV" and describe(PhotoExif(exposure_bias=0.0)) == ""
    assert describe(PhotoExif(exposure_bias=99.0, lens=" ")) == ""  # nonsense compensation, blank lens
    assert describe(PhotoExif()) == ""
