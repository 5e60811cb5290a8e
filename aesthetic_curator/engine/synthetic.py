"""Synthetic photos and pixel statistics for test bundles, tests and synthetic users.

The images are procedurally generated (smooth colour fields, shapes, blur, grain) so they vary
in exactly the properties the statistics measure. Nothing here is meant for real photos.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def synthetic_photos(count: int, size: int = 48, seed: int = 0) -> list[Image.Image]:
    """``count`` varied RGB images of ``size`` x ``size`` pixels, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(count):
        grid = int(rng.integers(2, 7))
        field = rng.uniform(0, 255, size=(grid, grid, 3)).astype(np.uint8)
        img = Image.fromarray(field).resize((size, size), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(0, 4))):
            x0, y0 = rng.integers(0, size, 2)
            x1, y1 = x0 + rng.integers(4, size // 2 + 1), y0 + rng.integers(4, size // 2 + 1)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            if rng.random() < 0.5:
                draw.rectangle((int(x0), int(y0), int(x1), int(y1)), fill=colour)
            else:
                draw.ellipse((int(x0), int(y0), int(x1), int(y1)), fill=colour)
        array = np.asarray(img, dtype=np.float32)
        grey = array.mean(axis=2, keepdims=True)
        array = grey + (array - grey) * rng.uniform(0.0, 1.6)  # saturation
        array = (array - 128) * rng.uniform(0.3, 1.5) + 128 + rng.uniform(-70, 70)  # contrast, brightness
        array[..., 0] += rng.uniform(-30, 30)  # warm/cool cast
        array[..., 2] -= rng.uniform(-30, 30)
        array += rng.normal(0, rng.uniform(0, 25), size=array.shape)  # grain
        img = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
        if rng.random() < 0.5:
            img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 2.5))))
        photos.append(img)
    return photos


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def brightness(rgb: np.ndarray) -> float:
    return float(_luminance(rgb).mean())


def contrast(rgb: np.ndarray) -> float:
    return float(_luminance(rgb).std())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk's colourfulness metric."""
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def sharpness(rgb: np.ndarray) -> float:
    """Log variance of the Laplacian of the luminance: high for crisp, grainy images."""
    lum = _luminance(rgb)
    lap = -4 * lum[1:-1, 1:-1] + lum[:-2, 1:-1] + lum[2:, 1:-1] + lum[1:-1, :-2] + lum[1:-1, 2:]
    return float(np.log1p(lap.var()))


def warmth(rgb: np.ndarray) -> float:
    return float(rgb[..., 0].mean() - rgb[..., 2].mean())


def flip_symmetric_projection(seed: int) -> Callable[[np.ndarray], float]:
    """A fixed random linear function of a downsampled image, unchanged by a horizontal flip.

    Symmetric so that flip augmentation during personalization cannot contradict the task.
    """
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(8, 8, 3))
    weights = (weights + weights[:, ::-1]) / 2

    def project(rgb: np.ndarray) -> float:
        small = np.asarray(Image.fromarray(rgb.astype(np.uint8)).resize((8, 8), Image.Resampling.BOX), np.float32)
        return float((small / 255.0 * weights).sum())

    return project


def pixel_statistics(seed: int = 0) -> dict[str, Callable[[np.ndarray], float]]:
    """The synthetic 'datasets' of a test bundle: task name -> statistic of an RGB array."""
    return {
        "brightness": brightness,
        "colourfulness": colourfulness,
        "sharpness": sharpness,
        "contrast": contrast,
        "warmth": warmth,
        "projection": flip_symmetric_projection(seed + 7),
    }
