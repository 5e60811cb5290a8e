"""What a photo's EXIF says about when and how it was taken.

Two readers need it: bursts and the grid's capture-time sort (when), and the loupe's line under a photo
("1/250 s · f/2.8 · ISO 400 · +0.7 EV · 50 mm · RF50mm F1.2 L USM · Canon EOS R5": was the blur the shutter
speed or the focus, was this frame of a bracket the brighter one?). Read
from the file's header only (about a millisecond). JPEG, TIFF, PNG, WebP and HEIF go through Pillow; camera
RAW containers (CR2, CR3, NEF, ARW, RAF, ORF, RW2, DNG, …), which Pillow cannot read, through exiv2
(pyexiv2, which the XMP sidecars use already): it parses their EXIF without touching the raw data, so a
RAW shooter's bursts are grouped by the shutter's time, not by when the card was copied. A photo without
EXIF, or with a damaged block, simply has none: never an error.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image

from aesthetic_curator.images import RAW_EXTENSIONS

log = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_MODEL, _DATETIME = 0x0110, 0x0132
_EXPOSURE_TIME, _F_NUMBER, _ISO = 0x829A, 0x829D, 0x8827
_DATETIME_ORIGINAL, _FOCAL_LENGTH, _SUBSEC_ORIGINAL = 0x9003, 0x920A, 0x9291
_EXPOSURE_BIAS, _LENS_MODEL = 0x9204, 0xA434

_bmff_lock = threading.Lock()
_bmff_enabled = False


@dataclass(frozen=True)
class PhotoExif:
    """The EXIF facts the app uses; each None when the file does not record it (or records nonsense)."""

    taken: str | None = None  # DateTimeOriginal, "2024:06:01 12:30:05"
    taken_subsec: str | None = None  # SubSecTimeOriginal, "25" = .25 s
    modified: str | None = None  # DateTime: the camera's (or an editor's) time when the original is absent
    exposure: float | None = None  # seconds
    f_number: float | None = None
    iso: float | None = None
    focal_length: float | None = None  # millimetres
    model: str | None = None  # the camera
    exposure_bias: float | None = None  # exposure compensation in EV (a bracket's frames differ in it)
    lens: str | None = None  # the lens model, as the camera names it


def read_exif(path: Path) -> PhotoExif:
    """The photo's EXIF facts; an empty :class:`PhotoExif` when it has none or they cannot be read."""
    try:
        if path.suffix.lower() in RAW_EXTENSIONS:
            return _read_raw_exif(path)
        return _read_pillow_exif(path)
    except Exception as exc:  # damaged EXIF costs the facts, never the photo
        log.debug("no EXIF read from %s: %s", path, exc)
        return PhotoExif()


def shooting_details(path: Path) -> str:
    """Shutter speed, aperture, ISO, exposure compensation, focal length, lens and camera model, those the
    file records, joined by " · "."""
    return describe(read_exif(path))


def describe(exif: PhotoExif) -> str:
    """The details as a photographer writes them; absent or nonsensical values (and a compensation of 0) are
    left out."""
    parts = []
    if exif.exposure is not None and exif.exposure > 0:
        parts.append(f"1/{round(1 / exif.exposure)} s" if exif.exposure < 0.5 else f"{exif.exposure:.3g} s")
    if exif.f_number is not None and exif.f_number > 0:
        parts.append(f"f/{exif.f_number:.1f}".removesuffix(".0"))
    if exif.iso is not None and exif.iso > 0:
        parts.append(f"ISO {round(exif.iso)}")
    if exif.exposure_bias is not None and round(exif.exposure_bias, 1) != 0 and abs(exif.exposure_bias) <= 10:
        parts.append(f"{exif.exposure_bias:+.1f} EV".replace(".0 EV", " EV"))
    if exif.focal_length is not None and exif.focal_length > 0:
        parts.append(f"{round(exif.focal_length)} mm")
    parts += [name for name in (_text(exif.lens), _text(exif.model)) if name]
    return " · ".join(parts)


def _read_pillow_exif(path: Path) -> PhotoExif:
    with Image.open(path) as image:
        exif = image.getexif()
        settings = exif.get_ifd(_EXIF_IFD)
        return PhotoExif(
            taken=_text(settings.get(_DATETIME_ORIGINAL)),
            taken_subsec=_text(settings.get(_SUBSEC_ORIGINAL)),
            modified=_text(exif.get(_DATETIME)),
            exposure=_number(settings.get(_EXPOSURE_TIME)),
            f_number=_number(settings.get(_F_NUMBER)),
            iso=_number(settings.get(_ISO)),
            focal_length=_number(settings.get(_FOCAL_LENGTH)),
            model=_text(exif.get(_MODEL)),
            exposure_bias=_number(settings.get(_EXPOSURE_BIAS)),
            lens=_text(settings.get(_LENS_MODEL)),
        )


def raw_exif_tags(path: Path) -> dict[str, str]:
    """Every EXIF tag of a camera RAW file as exiv2 names and writes them ("Exif.Photo.ExposureTime":
    "1/250"); raises what exiv2 raises for a file it cannot parse."""
    pyexiv2 = _exiv2()
    with pyexiv2.Image(str(path)) as image:
        return image.read_exif()


def _read_raw_exif(path: Path) -> PhotoExif:
    """exiv2 hands every value as text: rationals as "1/250", several values separated by spaces."""
    tags = raw_exif_tags(path)
    return PhotoExif(
        taken=_text(tags.get("Exif.Photo.DateTimeOriginal")),
        taken_subsec=_text(tags.get("Exif.Photo.SubSecTimeOriginal")),
        modified=_text(tags.get("Exif.Image.DateTime")),
        exposure=_number(tags.get("Exif.Photo.ExposureTime")),
        f_number=_number(tags.get("Exif.Photo.FNumber")),
        iso=_number(tags.get("Exif.Photo.ISOSpeedRatings") or tags.get("Exif.Photo.PhotographicSensitivity")),
        focal_length=_number(tags.get("Exif.Photo.FocalLength")),
        model=_text(tags.get("Exif.Image.Model")),
        exposure_bias=_number(tags.get("Exif.Photo.ExposureBiasValue")),
        lens=_text(tags.get("Exif.Photo.LensModel")),
    )


def _exiv2():
    """pyexiv2, with Canon's CR3 (an ISO media file, "BMFF") switched on once: exiv2 leaves it off by default."""
    global _bmff_enabled
    import pyexiv2

    with _bmff_lock:
        if not _bmff_enabled:
            try:
                pyexiv2.enableBMFF(True)
            except Exception as exc:  # an exiv2 built without it still reads every other RAW
                log.debug("exiv2 cannot read CR3: %s", exc)
            _bmff_enabled = True
    return pyexiv2


def _text(value: object) -> str | None:
    """A non-blank EXIF string without the NULs and spaces cameras pad it with."""
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    return text or None


def _number(value: object) -> float | None:
    """An EXIF rational, integer, tuple of them (ISO is sometimes several) or exiv2's text for them ("1/250",
    "640 640") as a float; None if unusable."""
    if isinstance(value, tuple):
        value = value[0] if value else None
    try:
        if isinstance(value, str):
            words = value.split()
            value = Fraction(words[0]) if words else None
        number = float(value)  # IFDRational, Fraction, int or float
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None
