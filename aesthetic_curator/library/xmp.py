"""XMP interop: the star ratings Lightroom, darktable and digiKam share, in sidecars or embedded.

``xmp:Rating`` is 1-5 stars, 0 unrated, -1 rejected; ``xmp:Label`` a colour label's name (Lightroom's and
Bridge's default set: Red, Yellow, Green, Blue, Purple; a custom label set's other names are not colours and
are left alone). Pick flags have no field in the XMP standard; two tools' own fields carry them, and both are
written and read: digiKam's ``digiKam:PickLabel`` (3 accepted, 1 rejected, 2 pending, 0 none) and Adobe's
``xmpDM:pick`` (1 pick, -1 reject, 0 none; Lightroom Classic itself keeps flags in its catalogue only).
Reading looks at both sidecar names
(``IMG_1234.xmp`` and ``IMG_1234.CR3.xmp``) and then at XMP embedded in the photo. Writing only
ever touches a sidecar (never the photo), through exiv2 (pyexiv2) so every field written by other
tools is kept; the sidecar is modified as a temporary copy and renamed into place.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from aesthetic_curator.atomic import atomic_path
from aesthetic_curator.errors import CuratorError
from aesthetic_curator.library.store import COLOUR_LABELS

log = logging.getLogger(__name__)

CURATOR_NAMESPACE = "http://ns.aesthetic-curator.app/1.0/"
CURATOR_PREFIX = "aecur"

_EMPTY_PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""

#: Longest file name (bytes) of common file systems.
NAME_MAX_BYTES = 255

_namespace_registered = False


def _pyexiv2():
    global _namespace_registered
    import pyexiv2

    if not _namespace_registered:
        try:
            pyexiv2.registerNs(CURATOR_NAMESPACE, CURATOR_PREFIX)
        except Exception as exc:  # already registered in this process
            log.debug("namespace registration: %s", exc)
        _namespace_registered = True
    return pyexiv2


#: The pick-flag fields (see the module's docstring) and what each says for a pick and for a reject.
PICK_FIELDS: dict[str, dict[str, str]] = {
    "Xmp.digiKam.PickLabel": {"picked": "3", "rejected": "1"},
    "Xmp.xmpDM.pick": {"picked": "1", "rejected": "-1"},
}


@dataclass(frozen=True)
class XmpRating:
    stars: int | None  # 1-5, None when unrated or rejected
    rejected: bool
    source: Path  # the sidecar or photo it came from
    picked: bool = False  # a pick flag (digiKam's or Adobe's field); never with ``rejected``


def sidecar_candidates(photo: Path) -> list[Path]:
    """Both sidecar conventions, in the order tools look for them (names too long to exist are left out)."""
    names = [photo.name + ".xmp", photo.name + ".XMP", photo.stem + ".xmp", photo.stem + ".XMP"]
    fitting = [n for n in dict.fromkeys(names) if len(os.fsencode(n)) <= NAME_MAX_BYTES]
    return [photo.with_name(n) for n in fitting]


def _is_file(path: Path) -> bool:
    """``Path.is_file`` that says False, rather than raising, for names the file system cannot hold."""
    try:
        return path.is_file()
    except OSError:
        return False


def find_sidecars(photo: Path) -> list[Path]:
    return [p for p in sidecar_candidates(photo) if _is_file(p)]


class XmpValueError(ValueError):
    """An ``xmp:Rating`` that is not one of -1 (rejected), 0 (unrated) or 1-5 stars."""


def _parse_rating(value: str | None) -> tuple[int | None, bool] | None:
    """(stars, rejected) from an ``xmp:Rating``; None when the field is absent or empty.

    The XMP specification allows -1 and 0-5; other values (``99``, ``-5``, ``2.5``, ``inf``) are
    refused with :class:`XmpValueError` instead of being coerced to something the user never gave.
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise XmpValueError(f"xmp:Rating '{text}' is not a number") from None
    if not number.is_integer() or not -1 <= number <= 5:
        raise XmpValueError(f"xmp:Rating '{text}' is not -1 (rejected), 0 (unrated) or 1-5 stars")
    stars = int(number)
    if stars == -1:
        return None, True
    if stars == 0:
        return None, False
    return stars, False


class XmpReadError(Exception):
    """A sidecar that exists but that exiv2 cannot parse."""


def _read_xmp(path: Path, strict: bool = False) -> dict[str, str]:
    """All XMP fields of ``path``; ``{}`` when it has none. With ``strict`` (sidecars, which are
    nothing but XMP) a file exiv2 cannot parse raises :class:`XmpReadError`; for a photo, a format
    without XMP support simply has no fields."""
    pyexiv2 = _pyexiv2()
    try:
        with pyexiv2.Image(str(path)) as image:
            return image.read_xmp()
    except Exception as exc:  # exiv2 raises plain RuntimeError for unsupported or corrupt files
        log.debug("no XMP readable from %s: %s", path, exc)
        if strict:
            raise XmpReadError(f"{path.name}: unreadable XMP sidecar ({exc})") from exc
        return {}


def parse_pick(fields: dict[str, str]) -> str | None:
    """The flag a pick-flag field (:data:`PICK_FIELDS`) says ("picked" or "rejected"), the first that says one; None
    for none, digiKam's "pending", or values no tool writes."""
    for key, meanings in PICK_FIELDS.items():
        text = str(fields.get(key, "")).strip()
        for meaning, value in meanings.items():
            if text == value:
                return meaning
    return None


def pick_fields(flag: str | None) -> dict[str, str]:
    """The XMP fields that say ``flag`` ("picked" or "rejected") to digiKam and to Adobe's tools."""
    return {key: meanings[flag] for key, meanings in PICK_FIELDS.items()} if flag else {}


def pick_to_write(picked: bool, rejected: bool, present: dict[str, str]) -> str | None:
    """What a sidecar with fields ``present`` gets in its pick-flag fields: a pick; a reject only where a pick
    field is already there (a pick from before, or digiKam's), since ``xmp:Rating`` -1 says it to every tool
    and a sidecar that already says so is left untouched."""
    if picked:
        return "picked"
    return "rejected" if rejected and set(present) & set(PICK_FIELDS) else None


def parse_label(value: str | None) -> str | None:
    """The colour label (``store.COLOUR_LABELS``) an ``xmp:Label`` names, in any case; None for none or for
    a custom label set's names."""
    text = str(value or "").strip().lower()
    return text if text in COLOUR_LABELS else None


@dataclass
class RatingLookup:
    rating: XmpRating | None
    problems: list[str] = field(default_factory=list)  # broken sidecars, out-of-range values
    label: str | None = None  # colour label, from the first source that names one


def look_up_rating(photo: Path) -> RatingLookup:
    """The photo's XMP star rating and colour label from a sidecar (preferred) or embedded XMP, with what was
    wrong on the way: a broken sidecar or an invalid value is reported and the next source is tried."""
    lookup = RatingLookup(None)
    rating_found = False  # an explicit 0 means unrated: nothing to import, and no later source is asked
    for source in [*find_sidecars(photo), photo]:
        if rating_found and lookup.label is not None:
            break
        try:
            fields = _read_xmp(source, strict=source != photo)
        except XmpReadError as exc:
            lookup.problems.append(str(exc))
            continue
        lookup.label = lookup.label or parse_label(fields.get("Xmp.xmp.Label"))
        if rating_found:
            continue
        try:
            parsed = _parse_rating(fields.get("Xmp.xmp.Rating"))
        except XmpValueError as exc:
            lookup.problems.append(f"{source.name}: {exc}; ignored")
            continue
        flag = parse_pick(fields)
        if parsed is not None or flag is not None:
            rating_found = True
            stars, rejected = parsed or (None, False)
            rejected = rejected or flag == "rejected"
            picked = flag == "picked" and not rejected
            if stars is not None or rejected or picked:
                lookup.rating = XmpRating(None if rejected else stars, rejected, source, picked)
    return lookup


def read_rating(photo: Path) -> XmpRating | None:
    """The photo's XMP star rating from a sidecar (preferred) or embedded XMP; None if it has none."""
    return look_up_rating(photo).rating


def read_fields(path: Path) -> dict[str, str]:
    """All XMP fields of a sidecar or photo (for tests and diagnostics)."""
    return _read_xmp(path)


#: How a new sidecar is named: ``NAME.EXT.xmp`` (darktable, digiKam: IMG_1.JPG and IMG_1.CR3 get one each)
#: or ``NAME.xmp`` (Lightroom Classic, Capture One, Bridge: what they read beside a raw file).
SIDECAR_NAMINGS = ("photo", "stem")


def _new_sidecar_path(photo: Path, naming: str = "photo") -> Path:
    """``NAME.EXT.xmp`` (``naming="photo"``) where it fits the file-name limit, else the short ``NAME.xmp``."""
    if naming not in SIDECAR_NAMINGS:
        raise ValueError(f"sidecar naming must be one of {SIDECAR_NAMINGS}, not {naming!r}")
    long_form = photo.name + ".xmp"
    if naming == "photo" and len(os.fsencode(long_form)) <= NAME_MAX_BYTES:
        return photo.with_name(long_form)
    return photo.with_name(photo.stem + ".xmp")


def sidecar_for_writing(photo: Path, naming: str = "photo") -> Path:
    """The photo's sidecar if it has one (the tool that made it reads that one), else a new one's path."""
    return next(iter(find_sidecars(photo)), None) or _new_sidecar_path(photo, naming)


def sidecar_fields(sidecar: Path) -> dict[str, str]:
    """The XMP fields of an existing sidecar (``{}`` when it does not exist); raises :class:`XmpReadError`
    for a sidecar exiv2 cannot parse, which must then not be rewritten."""
    return _read_xmp(sidecar, strict=True) if _is_file(sidecar) else {}


def write_sidecar(
    photo: Path,
    *,
    stars: int | None = None,
    rejected: bool = False,
    score: float | None = None,
    rank: int | None = None,
    profile: str | None = None,
    sidecar: Path | None = None,
    label: str | None = None,
    pick: str | None = None,
) -> Path:
    """Set the rating, pick flag ("picked" or "rejected" in :data:`PICK_FIELDS`), colour label and our
    personal score fields given in the photo's sidecar, keeping all other fields.

    Uses the existing sidecar if there is one, else creates ``NAME.EXT.xmp`` (the darktable/digiKam
    form, which cannot clash between IMG_1.JPG and IMG_1.CR3). Returns the sidecar written.
    """
    pyexiv2 = _pyexiv2()
    target = sidecar or sidecar_for_writing(photo)
    fields: dict[str, str] = {}
    if rejected:
        fields["Xmp.xmp.Rating"] = "-1"
    elif stars is not None:
        if not 0 <= stars <= 5:
            raise ValueError("stars must be 0-5")
        fields["Xmp.xmp.Rating"] = str(stars)
    fields |= pick_fields(pick)
    if label is not None:
        if label not in COLOUR_LABELS:
            raise ValueError(f"label must be one of {COLOUR_LABELS}")
        fields["Xmp.xmp.Label"] = label.capitalize()
    if score is not None:
        fields[f"Xmp.{CURATOR_PREFIX}.Score"] = f"{score:.4f}"
    if rank is not None:
        fields[f"Xmp.{CURATOR_PREFIX}.Rank"] = str(rank)
    if profile is not None:
        fields[f"Xmp.{CURATOR_PREFIX}.Profile"] = profile
    try:
        with atomic_path(target) as tmp:
            if target.exists():
                shutil.copy2(target, tmp)
            else:
                tmp.write_text(_EMPTY_PACKET, encoding="utf-8")
            with pyexiv2.Image(str(tmp)) as image:
                image.modify_xmp(fields)
    except Exception as exc:
        raise CuratorError(f"cannot write XMP sidecar {target}: {exc}") from exc
    return target
