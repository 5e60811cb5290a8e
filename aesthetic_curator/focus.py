"""Focus peaking: where a photo is sharp, marked green over it (the loupe's M), as FastRawViewer's focus
peaking and Capture One's focus mask show it. Culling asks "is it sharp, and where?" as often as "is it
blown out?" (``exposure``).

Sharpness here is an edge's steepness against its contrast: the luminance gradient at a pixel divided by
the luminance range around it (5x5 pixels), after a slight smoothing (σ = 0.7 px) that keeps sensor noise
from counting. An edge that rises within a pixel gives about 0.45; one blurred by a Gaussian of σ pixels
about 1 / (√(2π) · √(0.49 + σ²)): 0.33 at σ = 1, 0.19 at σ = 2, 0.1 at σ = 4. Dividing by the range makes
the mark the same for a faint sharp edge and a strong one, and keeps a strong soft edge out; edges whose
range is under :data:`MIN_CONTRAST` (noise, a clear sky, skin) are never marked. The threshold
:data:`EDGE_STEEPNESS` = 0.3 marks edges blurred by at most about one pixel.

Shift+M picks another sensitivity (:data:`FOCUS_LEVELS`), as FastRawViewer and Capture One let one set it.
Measured on 120 LIVE-C photos at their own size (share of the pixels marked, as taken / after a Gaussian
defocus of 0.5, 1 and 2 px): strict (0.35) 2.5% / 1.7% / 0.3% / 0.0%: sharp and 1-px-soft frames differ
eightfold, for critical focus; normal (0.3) 5.9% / 5.0% / 2.1% / 0.02%; loose (0.26) 9.8% / 9.0% / 6.2% /
1.2%: more of the subject marked, for soft lenses or small decodes. The Sharpness sort always uses normal.

Measured on the pixels the loupe shows (numpy + scipy on a worker thread of its own: 0.1-0.35 s for the
loupe's decode of a 12-45 MP photo, docs/benchmarks.md "Loupe"): fitted, it shows what is sharp at that
size, which is where the plane of focus lies and whether the subject is on it; the 1:1 view magnifies the
same marks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.images import decode_image
from aesthetic_curator.library.store import Library
from aesthetic_curator.progress import CancelToken, ProgressCallback, map_in_chunks

#: An edge whose gradient is at least this share of its local range counts as sharp (see the module text).
EDGE_STEEPNESS = 0.3
#: Focus peaking's sensitivities (Shift+M cycles through them in this order): their edge steepness.
FOCUS_LEVELS: dict[str, float] = {"normal": EDGE_STEEPNESS, "strict": 0.35, "loose": 0.26}
#: ... when its local luminance range (0..1) is at least this: fainter "edges" are noise or smooth tones.
MIN_CONTRAST = 0.1
#: The smoothing before the gradient, in pixels (a Gaussian's σ): keeps single noisy pixels out.
SMOOTHING = 0.7
#: The side of the square whose luminance range an edge's gradient is measured against.
RANGE_WINDOW = 5
#: The shorter side every photo is measured at for the Sharpness sort: one scale, so the shares compare.
SHARPNESS_SIZE = 512
#: Under this share a photo has almost no sharp edge (LIVE-C: 94% of the photos are above it as taken, 0.25%
#: after a 2-pixel defocus).
SOFT_SHARE = 0.005
#: The focus overlay's colour (RGBA): green, apart from the clipping overlay's red and blue.
FOCUS_COLOUR = (60, 255, 90, 255)

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255


def focus_mask(pixels: np.ndarray, steepness: float = EDGE_STEEPNESS) -> np.ndarray:
    """Which pixels of ``pixels`` (h, w, 3 uint8) lie on an edge at least ``steepness`` sharp (h, w bool)."""
    luminance = ndimage.gaussian_filter(pixels.astype(np.float32) @ _LUMA, SMOOTHING, truncate=3.0)
    gradient = np.hypot(ndimage.sobel(luminance, 1), ndimage.sobel(luminance, 0)) / 8  # Sobel's gain is 8
    spread = ndimage.maximum_filter(luminance, RANGE_WINDOW) - ndimage.minimum_filter(luminance, RANGE_WINDOW)
    return (spread >= MIN_CONTRAST) & (gradient >= steepness * spread)


def focus_share(pixels: np.ndarray) -> float:
    """The share (0..1) of the pixels on a sharp edge: near 0 for a photo that is soft everywhere."""
    return float(focus_mask(pixels).mean())


def focus_overlay(pixels: np.ndarray) -> np.ndarray:
    """An RGBA image the size of ``pixels``: :data:`FOCUS_COLOUR` on sharp edges, transparent elsewhere."""
    return mask_overlay(focus_mask(pixels))


def mask_overlay(mask: np.ndarray) -> np.ndarray:
    """:func:`focus_mask`'s answer drawn: :data:`FOCUS_COLOUR` where it is true, transparent elsewhere."""
    overlay = np.zeros((*mask.shape, 4), dtype=np.uint8)
    overlay[mask] = FOCUS_COLOUR
    return overlay


def photo_sharpness(path: Path) -> float | None:
    """The photo's :func:`focus_share` at :data:`SHARPNESS_SIZE` (its shorter side); None when it cannot be
    decoded. Relative: it ranks the frames of one scene (a burst, a series) by focus, and sorts an album's soft
    photos last, but a misty landscape has few sharp edges however well it is focused."""
    try:
        return image_sharpness(decode_image(path, min_size=SHARPNESS_SIZE))
    except ImageDecodeError:
        return None


def image_sharpness(image: Image.Image) -> float:
    """:func:`focus_share` of a decoded photo brought to :data:`SHARPNESS_SIZE` on its shorter side (never
    enlarged), so every photo is measured at one scale."""
    scale = SHARPNESS_SIZE / min(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return focus_share(np.asarray(image))


def album_sharpness(
    library: Library, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> dict[int, float | None]:
    """Photo id -> :func:`photo_sharpness` for the album: photos not measured before (or changed since) are
    measured (decoding on a few threads) and kept in the library; the rest come from it."""
    photos = library.photos()
    known = library.photo_sharpness()
    stale = [p for p in photos if p.id not in known or known[p.id][0] != p.content_hash]
    measured: dict[int, float | None] = {}
    chunks = map_in_chunks(
        lambda p: photo_sharpness(library.absolute_path(p)), stale, "measuring sharpness", progress, cancel, 32
    )
    for chunk, shares in chunks:
        library.store_photo_sharpness((p.id, p.content_hash, share) for p, share in zip(chunk, shares))
        measured.update((p.id, share) for p, share in zip(chunk, shares))
    return {p.id: measured[p.id] if p.id in measured else known[p.id][1] for p in photos}
