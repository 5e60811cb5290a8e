"""Graded, deterministic degradations of real photos: self-supervised tasks without labels.

A ``degrade:KIND:FOLDER`` task trains on pairs "original ≻ degraded" of the same photo at graded
strengths (level 0 is the photo itself, levels 1-3 are ever stronger). Nobody has to rate anything,
so any user can add a task on their own photos. Every random choice (which variant, which
direction, the noise) is a function of the photo's name, the level and the seed, so a resumed build
sees exactly the images an uninterrupted one saw.

Pure Pillow and numpy: this runs in data-loading workers, where torch math would fight torch's
own threads.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

LEVELS = 4  # 0 = original, then three strengths

#: kind -> what it does, for help texts and the bundle's task notes.
KINDS: dict[str, str] = {
    "blur": "defocus (Gaussian) or motion blur",
    "noise": "sensor noise (luminance and chroma)",
    "jpeg": "JPEG blocking at falling quality",
    "exposure": "under- or over-exposure with clipped highlights",
    "colour": "a colour cast or loss of saturation",
    "framing": "an off-centre crop or a tilted horizon",
}


@dataclass(frozen=True)
class Degradation:
    """One degraded version of a photo: which kinds may be chosen, how strong, and the seed."""

    kinds: tuple[str, ...]
    level: int  # 0 (original) .. LEVELS - 1
    key: str  # the photo's identity (its name), so choices do not depend on the folder's location
    seed: int = 0

    def apply(self, image: Image.Image) -> Image.Image:
        if self.level == 0:
            return image
        # One kind and variant per photo (not per level): the levels of a photo are one graded series.
        rng = np.random.default_rng(_seed(self.key, self.seed, "photo"))
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        variant = int(rng.integers(2))
        direction = int(rng.integers(4))
        noise_rng = np.random.default_rng(_seed(self.key, self.seed, f"level{self.level}"))
        return _APPLY[kind](image.convert("RGB"), self.level, variant, direction, noise_rng)


def _seed(key: str, seed: int, what: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}:{what}".encode()).digest()[:8], "big")


def _short(image: Image.Image) -> int:
    return min(image.size)


def _blur(image: Image.Image, level: int, variant: int, direction: int, rng: np.random.Generator) -> Image.Image:
    radius = _short(image) * (0.004, 0.009, 0.018)[level - 1]
    if variant == 0:
        return image.filter(ImageFilter.GaussianBlur(radius))
    length = max(3, round(radius * 3) | 1)  # odd kernel: a straight motion streak
    kernel = np.zeros((length, length), dtype=np.float32)
    if direction % 2 == 0:
        kernel[length // 2, :] = 1.0
    else:
        np.fill_diagonal(kernel, 1.0)
    array = np.asarray(image, dtype=np.float32)
    return Image.fromarray(_convolve(array, kernel / kernel.sum()))


def _convolve(array: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A small 2-D convolution per channel with edge padding (numpy only)."""
    k = kernel.shape[0]
    pad = k // 2
    padded = np.pad(array, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.zeros_like(array)
    for dy, dx in zip(*np.nonzero(kernel)):
        out += kernel[dy, dx] * padded[dy : dy + array.shape[0], dx : dx + array.shape[1]]
    return np.clip(out, 0, 255).astype(np.uint8)


def _noise(image: Image.Image, level: int, variant: int, direction: int, rng: np.random.Generator) -> Image.Image:
    sigma = (7.0, 15.0, 30.0)[level - 1]
    array = np.asarray(image, dtype=np.float32)
    luminance = rng.normal(0.0, sigma, size=(*array.shape[:2], 1))
    chroma = rng.normal(0.0, sigma * (0.3 if variant == 0 else 0.8), size=array.shape)
    return Image.fromarray(np.clip(array + luminance + chroma, 0, 255).astype(np.uint8))


def _jpeg(image: Image.Image, level: int, variant: int, direction: int, rng: np.random.Generator) -> Image.Image:
    quality = (30, 14, 6)[level - 1]
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=2)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def _exposure(image: Image.Image, level: int, variant: int, direction: int, rng: np.random.Generator) -> Image.Image:
    stops = (0.8, 1.6, 2.5)[level - 1] * (1 if variant == 0 else -1)
    linear = (np.asarray(image, dtype=np.float32) / 255.0) ** 2.2 * (2.0**stops)
    return Image.fromarray((np.clip(linear, 0, 1) ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8))


_CASTS = ((1.0, 0.0, -1.0), (-1.0, 0.0, 1.0), (-0.5, 1.0, -0.5), (0.5, -1.0, 0.5))  # warm, cool, green, magenta


def _colour(image: Image.Image, level: int, variant: int, direction: int, rng: np.random.Generator) -> Image.Image:
    array = np.asarray(image, dtype=np.float32)
    if variant == 0:
        strength = (0.10, 0.22, 0.40)[level - 1]
        gains = 1.0 + strength * np.asarray(_CASTS[direction], dtype=np.float32)
        return Image.fromarray(np.clip(array * gains, 0, 255).astype(np.uint8))
    keep = (0.55, 0.25, 0.0)[level - 1]
    grey = array @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
    mixed = grey[..., None] + keep * (array - grey[..., None])
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))


def _framing(image: Image.Image, level: int, variant: int, direction: int, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    if variant == 0:  # cut a band off one side: the subject moves off centre and is cut
        cut = (0.12, 0.24, 0.36)[level - 1]
        boxes = (
            (int(width * cut), 0, width, height),
            (0, 0, int(width * (1 - cut)), height),
            (0, int(height * cut), width, height),
            (0, 0, width, int(height * (1 - cut))),
        )
        return image.crop(boxes[direction])
    angle = (3.0, 6.0, 10.0)[level - 1] * (1 if direction % 2 == 0 else -1)
    rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    # the largest centred box without the corners the rotation brought in
    radians = np.deg2rad(abs(angle))
    scale = 1.0 / (np.cos(radians) + np.sin(radians) * max(width, height) / min(width, height))
    box_w, box_h = int(width * scale), int(height * scale)
    left, top = (width - box_w) // 2, (height - box_h) // 2
    return rotated.crop((left, top, left + box_w, top + box_h))


_APPLY = {
    "blur": _blur,
    "noise": _noise,
    "jpeg": _jpeg,
    "exposure": _exposure,
    "colour": _colour,
    "framing": _framing,
}


def parse_kinds(text: str) -> tuple[str, ...]:
    """``blur`` or ``noise+jpeg`` -> the kinds; an unknown kind is a ValueError naming the known ones."""
    kinds = tuple(part.strip() for part in text.split("+") if part.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ValueError(f"unknown degradation '{unknown[0] if unknown else text}' (one of {', '.join(KINDS)})")
    return kinds
