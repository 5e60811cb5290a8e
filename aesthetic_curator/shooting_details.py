"""A photo's shooting details from its EXIF: "1/250 s · f/2.8 · ISO 400 · 50 mm · Canon EOS R5".

What a photographer reads next to a photo when judging it (was the blur the shutter speed or the focus?),
shown under the loupe. Read from the file header only (about a millisecond); a photo without EXIF, or with a
damaged block, simply has none. Camera RAW containers are not read by Pillow: they show none.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PIL import Image

from aesthetic_curator.images import RAW_EXTENSIONS

log = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_MODEL = 0x0110
_EXPOSURE_TIME = 0x829A
_F_NUMBER = 0x829D
_ISO = 0x8827
_FOCAL_LENGTH = 0x920A


def shooting_details(path: Path) -> str:
    """Shutter speed, aperture, ISO, focal length and camera model, those the file records, joined by " · "."""
    if path.suffix.lower() in RAW_EXTENSIONS:
        return ""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            settings = exif.get_ifd(_EXIF_IFD)
            return describe(
                _number(settings.get(_EXPOSURE_TIME)),
                _number(settings.get(_F_NUMBER)),
                _number(settings.get(_ISO)),
                _number(settings.get(_FOCAL_LENGTH)),
                exif.get(_MODEL),
            )
    except Exception as exc:  # damaged EXIF costs the details, never the photo
        log.debug("no shooting details in %s: %s", path, exc)
        return ""


def describe(
    exposure: float | None, f_number: float | None, iso: float | None, focal: float | None, model: object
) -> str:
    """The details as a photographer writes them; absent or nonsensical values are left out."""
    parts = []
    if exposure is not None and exposure > 0:
        parts.append(f"1/{round(1 / exposure)} s" if exposure < 0.5 else f"{exposure:.3g} s")
    if f_number is not None and f_number > 0:
        parts.append(f"f/{f_number:.1f}".removesuffix(".0"))
    if iso is not None and iso > 0:
        parts.append(f"ISO {round(iso)}")
    if focal is not None and focal > 0:
        parts.append(f"{round(focal)} mm")
    if isinstance(model, str) and model.strip("\x00 "):
        parts.append(model.strip("\x00 "))
    return " · ".join(parts)


def _number(value: object) -> float | None:
    """An EXIF rational, integer or tuple of them (ISO is sometimes several) as a float; None if unusable."""
    if isinstance(value, tuple):
        value = value[0] if value else None
    try:
        number = float(value)  # IFDRational, int or float
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None
