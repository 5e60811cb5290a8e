"""Turning decoded photos into model input, identically for training and ranking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from aesthetic_curator.images import decode_image


@dataclass(frozen=True)
class Preprocessor:
    """Resize the shorter side (bicubic), centre-crop a square, normalise with CLIP mean/std.

    No flip or other augmentation happens here: augmentation belongs to training only (the authors'
    code also flipped at test time, a bug we do not copy).
    """

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: Image.Image) -> torch.Tensor:
        size = self.image_size
        width, height = image.size
        scale = size / min(width, height)
        new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
        left, top = (new_w - size) // 2, (new_h - size) // 2
        # The centre square is cut from the source before resizing: the same pixels as resizing the
        # whole photo and then cropping, but the work stays bounded by the square, so a 60000x1 strip
        # costs what a 1x1 image does instead of a 13-megapixel intermediate.
        box = (left / scale, top / scale, (left + size) / scale, (top + size) / scale)
        cropped = image.resize((size, size), Image.Resampling.BICUBIC, box=box)
        array = np.asarray(cropped, dtype=np.float32) / 255.0
        tensor = torch.from_numpy(array).permute(2, 0, 1)
        mean = torch.tensor(self.mean).view(3, 1, 1)
        std = torch.tensor(self.std).view(3, 1, 1)
        return (tensor - mean) / std

    def load(self, path) -> torch.Tensor:
        """Decode a file (reduced-scale where possible) and preprocess it."""
        return self(decode_image(path, min_size=self.image_size))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([self(img) for img in images])

    @classmethod
    def for_scorer(cls, scorer) -> Preprocessor:
        return cls(scorer.image_size, scorer.mean, scorer.std)
