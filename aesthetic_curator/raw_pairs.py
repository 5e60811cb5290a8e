"""RAW+JPEG pairs: one press of the shutter, two files, one photo.

A camera set to save both writes ``IMG_1234.CR3`` and ``IMG_1234.JPG`` (or ``.HIF``: RAW+HEIF) side by side.
They show the same moment, so the album counts them once, as Lightroom (its default) and Photo Mechanic do:
rated once, ranked once, one tile. The rendered file leads: it is what is hashed, decoded and scored (the
camera's own rendering at full size; a RAW's embedded preview is often smaller and slower to reach), and
the RAW travels with it: exported beside it under the same name, and its XMP sidecar written with the
ratings, since the RAW is the file an editor develops.

The rule is by name only, within one folder: the same stem exactly as the camera wrote it, extensions in
any case. A stem with several RAW or several rendered files pairs the first of each (JPEG before HEIF,
then by name); the others stay photos of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from aesthetic_curator.images import RAW_EXTENSIONS

#: The camera's rendered formats that lead a pair, in order of preference.
RENDERED_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif")
_PREFERENCE = {suffix: n for n, suffix in enumerate(RENDERED_EXTENSIONS)}


def _split(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    return (stem, "." + suffix.lower()) if dot and stem else (name, "")


def pair_raw_files(names: Iterable[str]) -> dict[str, str]:
    """Among one folder's file names: each leading rendered file's name -> its RAW companion's name."""
    raws: dict[str, list[str]] = {}
    rendered: dict[str, list[str]] = {}
    for name in names:
        stem, suffix = _split(name)
        if suffix in RAW_EXTENSIONS:
            raws.setdefault(stem, []).append(name)
        elif suffix in _PREFERENCE:
            rendered.setdefault(stem, []).append(name)
    return {
        min(leads, key=lambda name: (_PREFERENCE[_split(name)[1]], name)): min(raws[stem])
        for stem, leads in rendered.items()
        if stem in raws
    }


def pairs_in(folder: Path) -> dict[str, str]:
    """The RAW+JPEG pairs of ``folder`` as it is now (:func:`pair_raw_files` of its listing; none when it
    cannot be read)."""
    try:
        return pair_raw_files(entry.name for entry in os.scandir(folder))
    except OSError:
        return {}


def raw_companion(photo: Path, pairs: dict[str, str] | None = None) -> Path | None:
    """The RAW file paired with ``photo`` (None for a photo without one); ``pairs``: its folder's
    :func:`pairs_in`, when the caller looks up many photos of one folder."""
    if _split(photo.name)[1] not in _PREFERENCE:
        return None
    companion = (pairs if pairs is not None else pairs_in(photo.parent)).get(photo.name)
    return photo.with_name(companion) if companion else None
