"""A photo's exposure at a glance: its RGB histogram, how much of it is clipped to black or white, and where
(the clipping overlay: blown pixels red, crushed ones blue, as Lightroom's J shows them).

Culling asks "is it blown out?" as often as "is it sharp?". The loupe shows this for the photo on screen,
read from the reduced decode it already has (a few million pixels: a few milliseconds of numpy on the
decode worker, no torch), which for a histogram is as good as the full photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

#: A channel value at or below this counts as crushed to black, at or above 255 - this as blown to white
#: (JPEG noise keeps a clipped sky off 255 by a level or two).
CLIP_MARGIN = 2


@dataclass(frozen=True)
class Histogram:
    """Pixel counts per level (256) of the red, green and blue channels."""

    counts: np.ndarray  # shape (3, 256), int64

    @property
    def pixels(self) -> int:
        return int(self.counts[0].sum())

    def clipped(self) -> tuple[float, float]:
        """Shares of the pixels (0..1) crushed to black and blown to white, each the largest over the three
        channels (a sky blown in blue alone is blown): the clipping warning photographers read."""
        total = max(1, self.pixels)
        shadows = self.counts[:, : CLIP_MARGIN + 1].sum(axis=1).max() / total
        highlights = self.counts[:, 255 - CLIP_MARGIN :].sum(axis=1).max() / total
        return float(shadows), float(highlights)


def histogram(image: Image.Image) -> Histogram:
    """The histogram of an 8-bit RGB image."""
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    counts = np.stack([np.bincount(pixels[:, channel], minlength=256) for channel in range(3)])
    return Histogram(counts.astype(np.int64))


def describe_clipping(shares: tuple[float, float], at_least: float = 0.001) -> str:
    """In words, leaving out what is under ``at_least``: "2.1% blown highlights · 0.4% crushed shadows"."""
    shadows, highlights = shares
    parts = [f"{highlights:.1%} blown highlights" if highlights >= at_least else ""]
    parts.append(f"{shadows:.1%} crushed shadows" if shadows >= at_least else "")
    return " · ".join(part for part in parts if part) or "nothing clipped"


#: The clipping overlay's colours (RGBA): blown to white, crushed to black.
BLOWN_COLOUR = (255, 0, 0, 255)
CRUSHED_COLOUR = (0, 90, 255, 255)


def clipping_overlay(pixels: np.ndarray) -> np.ndarray:
    """An RGBA image the size of ``pixels`` (h, w, 3 uint8): :data:`BLOWN_COLOUR` where any channel is blown,
    :data:`CRUSHED_COLOUR` where every channel is crushed, transparent elsewhere."""
    overlay = np.zeros((*pixels.shape[:2], 4), dtype=np.uint8)
    overlay[(pixels <= CLIP_MARGIN).all(axis=2)] = CRUSHED_COLOUR
    overlay[(pixels >= 255 - CLIP_MARGIN).any(axis=2)] = BLOWN_COLOUR
    return overlay
