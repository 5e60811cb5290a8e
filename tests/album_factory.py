"""Builds a test album with every supported format, odd names and deliberately bad files."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image


def _photo(size=(96, 64), colour=(200, 120, 40)) -> Image.Image:
    img = Image.new("RGB", size, colour)
    img.paste((30, 60, 220), (0, 0, size[0] // 2, size[1]))  # left half blue
    return img


def heif_available() -> bool:
    try:
        import pillow_heif

        return bool(pillow_heif.libheif_info().get("encoders"))
    except ImportError:
        return False


def write_tiny_dng(path: Path, width: int = 96, height: int = 64) -> None:
    """A minimal valid DNG (16-bit RGGB mosaic, left half darker) that LibRaw can develop."""
    import numpy as np
    import tifffile

    cfa = np.zeros((height, width), np.uint16)
    cfa[0::2, 0::2], cfa[0::2, 1::2], cfa[1::2, 0::2], cfa[1::2, 1::2] = 3000, 2000, 2000, 1000
    cfa[:, : width // 2] //= 4
    tags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern RGGB
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "Aesthetic Curator test camera", True),  # UniqueCameraModel
        (50717, "I", 1, 4095, True),  # WhiteLevel
        (50714, "H", 1, 0, True),  # BlackLevel
        (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1 = D65
    ]
    tifffile.imwrite(path, cfa, photometric=32803, extratags=tags, bitspersample=16)


def write_raw_with_exif(path: Path, taken: str, subsec: str = "") -> Path:
    """A tiny DNG whose EXIF (written by exiv2, as a camera would) says when and how it was shot."""
    import pyexiv2

    write_tiny_dng(path)
    tags = {
        "Exif.Photo.DateTimeOriginal": taken,
        "Exif.Photo.ExposureTime": "1/250",
        "Exif.Photo.FNumber": "28/10",
        "Exif.Photo.ISOSpeedRatings": "400",
        "Exif.Photo.FocalLength": "50/1",
        "Exif.Photo.ExposureBiasValue": "-1/3",
        "Exif.Photo.LensModel": "NIKKOR Z 50mm f/1.8 S",
        "Exif.Image.Model": "Nikon Z 6_2",
    }
    if subsec:
        tags["Exif.Photo.SubSecTimeOriginal"] = subsec
    with pyexiv2.Image(str(path)) as image:
        image.modify_exif(tags)
    return path


def make_album(root: Path) -> dict[str, list[str]]:
    """Create the album; returns the relpaths of good photos by format and the bad files by kind."""
    good: dict[str, list[str]] = {}

    def add(fmt: str, rel: str, save) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        save(path)
        good.setdefault(fmt, []).append(rel)

    add("JPEG", "2024/summer/beach.jpg", lambda p: _photo().save(p, quality=90))
    add("JPEG", "2024/ünïcødé 写真/café.JPG", lambda p: _photo(colour=(10, 200, 10)).save(p, format="JPEG"))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90° clockwise
    add("JPEG", "2024/rotated.jpg", lambda p: _photo((96, 64)).save(p, exif=exif))
    add("PNG", "png/alpha.png", lambda p: Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(p))
    add("PNG", "png/palette.png", lambda p: _photo().convert("P").save(p))
    add("WebP", "web/pic.webp", lambda p: _photo().save(p, format="WEBP"))
    add("TIFF", "tiff/cmyk.tif", lambda p: _photo().convert("CMYK").save(p))
    add("TIFF", "tiff/sixteen.tiff", lambda p: Image.new("I;16", (32, 32), 40000).save(p))
    add("BMP", "old/scan.bmp", lambda p: _photo().save(p))
    frames = [_photo(colour=(i * 60, 0, 0)) for i in range(3)]
    add("GIF", "gif/anim.gif", lambda p: frames[0].save(p, save_all=True, append_images=frames[1:]))
    if heif_available():
        import pillow_heif  # noqa: F401 - registers the HEIF encoder with Pillow

        add("HEIF", "phone/IMG_0001.HEIC", lambda p: _photo().save(p, format="HEIF"))

    add("RAW", "raw/DSC_0001.DNG", write_tiny_dng)

    bad = {"decode": [], "scan": []}
    (root / "bad").mkdir()
    good_bytes = (root / "2024/summer/beach.jpg").read_bytes()
    (root / "bad/truncated.jpg").write_bytes(good_bytes[: len(good_bytes) // 3])
    (root / "bad/text.png").write_text("definitely not a PNG")
    Image.new("1", (17000, 17000)).save(root / "bad/bomb.png")  # 289 Mpx, a few KB on disk
    bad["decode"] += ["bad/truncated.jpg", "bad/text.png", "bad/bomb.png"]
    (root / "bad/zero.jpg").write_bytes(b"")
    os.symlink(root / "bad/does-not-exist.jpg", root / "bad/broken-link.jpg")
    os.symlink(root, root / "bad/loop")  # a folder symlink back to the album root
    bad["scan"] += ["bad/zero.jpg", "bad/broken-link.jpg", "bad/loop"]
    (root / ".hidden.jpg").write_bytes(good_bytes)
    (root / "notes.txt").write_text("not a photo")
    return {"good": [r for rels in good.values() for r in rels], "by_format": good, **bad}
