"""Finding and decoding photos: the one decode path used for thumbnails, training and ranking.

Using a single function everywhere means the model sees exactly the same pixels when it learns
from a rated photo as when it later ranks it.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from aesthetic_curator.errors import ImageDecodeError

log = logging.getLogger(__name__)

try:  # HEIC/HEIF through libheif; optional so the engine works where the wheel is missing
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the platform's wheels
    HEIF_AVAILABLE = False

#: Camera RAW extensions decoded through LibRaw (rawpy), preferring the embedded preview.
RAW_EXTENSIONS = frozenset(
    {
        ".cr2",
        ".cr3",
        ".crw",
        ".nef",
        ".nrw",
        ".arw",
        ".srf",
        ".sr2",
        ".dng",
        ".raf",
        ".orf",
        ".rw2",
        ".pef",
        ".srw",
        ".x3f",
        ".3fr",
        ".iiq",
        ".rwl",
        ".erf",
        ".kdc",
        ".mrw",
    }
)
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
RASTER_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})

#: File extensions (lower case) treated as photos.
IMAGE_EXTENSIONS = RASTER_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS

_SRGB_PROFILE = ImageCms.createProfile("sRGB")

#: Largest decoded image accepted (pixels); larger files are refused as possible decompression bombs.
MAX_IMAGE_PIXELS = 250_000_000


def decode_image(path: Path, min_size: int | None = None) -> Image.Image:
    """Decode ``path`` to an upright 8-bit RGB image.

    EXIF orientation is applied. When ``min_size`` is given, JPEGs are decoded at a reduced scale
    (libjpeg DCT scaling via ``draft``) as long as the shorter side stays at least ``min_size``,
    which is several times faster for large photos that only feed a small model input.
    Raises :class:`ImageDecodeError` with a readable reason for anything that is not a usable image.
    """
    return decode_image_scaled(path, min_size)[0]


def decode_image_scaled(path: Path, min_size: int | None = None) -> tuple[Image.Image, float]:
    """:func:`decode_image`, and how many pixels of the full decode one pixel of this one spans (1.0: full
    size; 2.0 when libjpeg halved it): what showing a reduced decode at 1:1 needs until the full one comes.

    The JPEG of a RAW+JPEG pair (``raw_pairs``) that cannot be decoded (a card error truncated it) stands
    aside for its RAW: the shot is intact, and the RAW is its master."""
    try:
        return _decode_file(path, min_size)
    except ImageDecodeError:
        from aesthetic_curator.raw_pairs import raw_companion  # the pairing rule; it imports this module

        companion = raw_companion(path)
        if companion is None:
            raise
        log.info("%s cannot be decoded; showing its RAW %s instead", path, companion.name)
        return _decode_file(companion, min_size)


def _decode_file(path: Path, min_size: int | None) -> tuple[Image.Image, float]:
    try:
        if path.stat().st_size == 0:
            raise ImageDecodeError(f"{path}: empty file")
        if path.suffix.lower() in RAW_EXTENSIONS:
            return _decode_raw(path, min_size)
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageDecodeError(
                    f"{path}: {width}x{height} pixels is larger than the {MAX_IMAGE_PIXELS:,}-pixel limit "
                    "(possible decompression bomb)"
                )
            request = jpeg_draft_request(width, height, min_size) if img.format == "JPEG" else None
            if request is not None:
                img.draft("RGB", request)
            scale = width / img.size[0]  # before rotating upright: both sides shrink alike
            return _finish(img), scale
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"{path}: refused as a possible decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{path}: not a recognised image format") from exc
    except MemoryError as exc:
        raise ImageDecodeError(f"{path}: too large to decode in the memory available") from exc
    except Exception as exc:  # the one guard: whatever a decoder raises on a damaged file skips that file only
        log.debug("decoder failure on %s", path, exc_info=True)
        raise ImageDecodeError(f"{path}: cannot decode ({type(exc).__name__}: {exc})") from exc


def jpeg_draft_request(width: int, height: int, min_size: int | None) -> tuple[int, int] | None:
    """The reduced size :func:`decode_image` asks of libjpeg's DCT scaling (``Image.draft``) so that the
    shorter side stays at least ``min_size``; None when the photo is too small to reduce."""
    if min_size is None:
        return None
    scale = min(width, height) / min_size
    if scale < 2:
        return None
    return (max(1, int(width / scale)), max(1, int(height / scale)))


def _finish(img: Image.Image) -> Image.Image:
    """Decode fully, rotate upright, convert to sRGB 8-bit RGB."""
    img.load()
    icc = img.info.get("icc_profile")
    rgb = _to_rgb(_upright(img))
    return _to_srgb(rgb, icc) if icc else rgb


_ORIENTATION_TAG = 0x0112
_TRANSPOSES = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation. A damaged EXIF block must not cost the photo: Pillow's
    ``exif_transpose`` re-serialises the whole block and fails on some broken IFDs, so we fall back
    to reading only the orientation tag, and to no rotation when even that is unreadable."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # struct.error, TypeError, ... from a damaged IFD
        log.debug("EXIF block unusable (%s); reading the orientation tag alone", exc)
    for transpose in _TRANSPOSES.get(exif_orientation(img), ()):
        img = img.transpose(transpose)
    return img


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1-8) read alone; 1 (as stored) when it is missing, unreadable or invalid."""
    try:
        value = int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a damaged EXIF block
        return 1
    return value if value in _TRANSPOSES else 1


def describes_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """Whether a colour profile is sRGB by its description (then its pixels need no conversion)."""
    return "srgb" in (ImageCms.getProfileDescription(profile) or "").lower()


def _to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Convert from an embedded colour profile to sRGB; a broken profile is ignored, not fatal."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if describes_srgb(source):
            return img
        return ImageCms.profileToProfile(img, source, _SRGB_PROFILE, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.debug("ignoring unusable colour profile: %s", exc)
        return img


def _decode_raw(path: Path, min_size: int | None) -> tuple[Image.Image, float]:
    """A camera RAW file: its embedded JPEG preview when there is one (reduced by DCT scaling as far as
    ``min_size`` allows), else a LibRaw development (at half size when ``min_size`` allows: scale 2.0)."""
    try:
        import rawpy
    except ImportError as exc:  # pragma: no cover - depends on the platform's wheels
        raise ImageDecodeError(f"{path}: RAW support needs the 'rawpy' package") from exc
    try:
        with rawpy.imread(str(path)) as raw:
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                thumb = None
            if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
                preview = Image.open(io.BytesIO(thumb.data))
                if min_size is None or min(preview.size) >= min_size:
                    own, width = _has_orientation(preview), preview.size[0]
                    request = jpeg_draft_request(*preview.size, min_size)
                    if request is not None:  # a thumbnail or a model's input: DCT scaling, as for any JPEG
                        preview.draft("RGB", request)
                    scale = width / preview.size[0]
                    return _held_upright(_finish(preview), None if own else raw.sizes.flip), scale
            elif thumb is not None and thumb.format == rawpy.ThumbFormat.BITMAP:
                return _held_upright(Image.fromarray(thumb.data).convert("RGB"), raw.sizes.flip), 1.0
            half = min_size is not None and thumb is None  # with a small preview, the full decode is the preview
            developed = raw.postprocess(use_camera_wb=True, half_size=min_size is not None, output_bps=8)
            return Image.fromarray(developed), 2.0 if half else 1.0
    except ImageDecodeError:
        raise
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise ImageDecodeError(f"{path}: cannot decode RAW file ({exc})") from exc


#: LibRaw's ``sizes.flip`` (how the camera was held: 3 upside down, 5 and 6 on its side) as the transposes that
#: set the sensor's image upright.
_LIBRAW_FLIPS = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}


def _held_upright(preview: Image.Image, flip: int | None) -> Image.Image:
    """A RAW's embedded preview turned as the camera was held. Many cameras store the preview as the sensor saw
    it, without an orientation of its own (a portrait shot would show on its side): then the RAW container's
    orientation (LibRaw's flip) turns it; a preview with its own EXIF orientation was turned by it already
    (``flip`` None)."""
    transpose = _LIBRAW_FLIPS.get(flip) if flip is not None else None
    return preview.transpose(transpose) if transpose is not None else preview


def _has_orientation(img: Image.Image) -> bool:
    try:
        return _ORIENTATION_TAG in img.getexif()
    except Exception:  # a damaged EXIF block: no orientation of its own
        return False


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any mode (palette, CMYK, 16-bit, alpha) to RGB; alpha is composited on white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    if img.mode == "F":
        return _float_to_rgb(img)
    return img.convert("RGB")


def _float_to_rgb(img: Image.Image) -> Image.Image:
    """32-bit float images (scientific and HDR-ish TIFFs): 0..1 is the usual range, as in tifffile and
    OpenCV; larger values are taken as 0..255. Pillow's own conversion reads 0..1 as 0..255, i.e. black."""
    array = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(array.max()) if array.size else 0.0
    scaled = array * 255.0 if peak <= 1.0 else array
    gray = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    return gray.convert("RGB")
