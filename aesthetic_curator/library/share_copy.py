"""A photo resized for sharing: upright, sRGB (its profile embedded), the long edge at most ``long_edge``
pixels (never enlarged), JPEG quality 90, the original's EXIF but for its orientation, the original's date.

A copy carries a JPEG comment naming its original's content hash and the size, so a rerun of an
interrupted export recognises what it already wrote instead of writing it twice.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PIL import Image, ImageCms

from aesthetic_curator.atomic import atomic_path
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.images import RAW_EXTENSIONS, decode_image
from aesthetic_curator.library.scanner import fast_hash
from aesthetic_curator.photo_exif import raw_exif_tags

log = logging.getLogger(__name__)

ORIENTATION_TAG = 0x0112
#: The colour profile a resized copy declares (its pixels are sRGB: images.decode_image converts them).
SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
#: The long edge of a resized JPEG by default (a full-screen view on most displays, small enough to mail).
DEFAULT_LONG_EDGE = 2048
#: JPEG quality of a resized copy: indistinguishable from the original at its size for photos.
SHARE_QUALITY = 90


def share_mark(source: Path, long_edge: int) -> str:
    """The comment a resized copy carries: which original (by content) at which size, so a rerun knows it."""
    size = source.stat().st_size
    return f"aesthetic-curator export of {fast_hash(source, size)}:{size} at {long_edge} px"


def same_share_copy(source: Path, existing: Path, long_edge: int) -> bool:
    try:
        with Image.open(existing) as image:
            comment = image.info.get("comment", b"").rstrip(b"\x00")  # exiv2 (a RAW's EXIF) ends it with a NUL
            return comment == share_mark(source, long_edge).encode()
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _exif_upright(source: Path) -> bytes:
    """The original's EXIF with its orientation dropped (the pixels are turned upright), or none when it has
    none or Pillow cannot read it (a damaged block; a RAW file's comes through exiv2: :func:`_copy_raw_exif`)."""
    try:
        with Image.open(source) as image:
            exif = image.getexif()
            exif.pop(ORIENTATION_TAG, None)
            return exif.tobytes() if len(exif) else b""
    except Exception as exc:  # any reader error only costs the copy its EXIF
        log.debug("no EXIF kept from %s: %s", source, exc)
        return b""


#: What a resized copy of a camera RAW keeps of its EXIF (read and written by exiv2: Pillow reads none from a
#: RAW): when, how and with what it was taken, and where; never the sensor's layout or the maker's notes.
_RAW_EXIF_KEPT = (
    "Exif.Image.Make",
    "Exif.Image.Model",
    "Exif.Image.DateTime",
    "Exif.Image.Artist",
    "Exif.Image.Copyright",
)
_RAW_EXIF_GROUPS = ("Exif.Photo.", "Exif.GPSInfo.")
_RAW_EXIF_LEFT_OUT = {"Exif.Photo.MakerNote", "Exif.Photo.PixelXDimension", "Exif.Photo.PixelYDimension"}


def _copy_raw_exif(source: Path, copy: Path) -> None:
    """A RAW's EXIF (the part in :data:`_RAW_EXIF_KEPT` and its groups) into its resized copy; a RAW exiv2
    cannot read, or a tag it cannot write, only costs the copy its EXIF."""
    try:
        tags = raw_exif_tags(source)
        kept = {
            key: value
            for key, value in tags.items()
            if (key in _RAW_EXIF_KEPT or key.startswith(_RAW_EXIF_GROUPS)) and key not in _RAW_EXIF_LEFT_OUT
        }
        if kept:
            import pyexiv2

            with pyexiv2.Image(str(copy)) as image:
                image.modify_exif(kept)
    except Exception as exc:  # exiv2 raises plain RuntimeError
        log.debug("no EXIF kept from %s: %s", source, exc)


def write_share_copy(source: Path, target: Path, long_edge: int) -> None:
    """``source`` decoded upright in sRGB, at most ``long_edge`` pixels long, as a JPEG at ``target``."""
    image = decode_image(source)
    image.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)  # never enlarges
    try:
        with atomic_path(target, replace=False) as partial:
            image.save(
                partial,
                "JPEG",
                quality=SHARE_QUALITY,
                optimize=True,
                exif=_exif_upright(source),
                icc_profile=SRGB_PROFILE,
                comment=share_mark(source, long_edge),
            )
            if source.suffix.lower() in RAW_EXTENSIONS:
                _copy_raw_exif(source, partial)
    except FileExistsError as exc:
        raise CuratorError(str(exc)) from None
    stat = source.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # sorts by date like the original
