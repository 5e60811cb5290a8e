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

Measured on the pixels the loupe shows (numpy + scipy on a worker thread of its own: 0.1-0.35 s for the
loupe's decode of a 12-45 MP photo, docs/benchmarks.md "Loupe"): fitted, it shows what is sharp at that
size, which is where the plane of focus lies and whether the subject is on it; the 1:1 view magnifies the
same marks.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: An edge whose gradient is at least this share of its local range counts as sharp (see the module text).
EDGE_STEEPNESS = 0.3
#: ... when its local luminance range (0..1) is at least this: fainter "edges" are noise or smooth tones.
MIN_CONTRAST = 0.1
#: The smoothing before the gradient, in pixels (a Gaussian's σ): keeps single noisy pixels out.
SMOOTHING = 0.7
#: The side of the square whose luminance range an edge's gradient is measured against.
RANGE_WINDOW = 5
#: The focus overlay's colour (RGBA): green, apart from the clipping overlay's red and blue.
FOCUS_COLOUR = (60, 255, 90, 255)

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255


def focus_mask(pixels: np.ndarray) -> np.ndarray:
    """Which pixels of ``pixels`` (h, w, 3 uint8) lie on a sharp edge (h, w bool)."""
    luminance = ndimage.gaussian_filter(pixels.astype(np.float32) @ _LUMA, SMOOTHING, truncate=3.0)
    gradient = np.hypot(ndimage.sobel(luminance, 1), ndimage.sobel(luminance, 0)) / 8  # Sobel's gain is 8
    spread = ndimage.maximum_filter(luminance, RANGE_WINDOW) - ndimage.minimum_filter(luminance, RANGE_WINDOW)
    return (spread >= MIN_CONTRAST) & (gradient >= EDGE_STEEPNESS * spread)


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
