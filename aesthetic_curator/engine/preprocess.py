"""Turning decoded photos into model input, identically for training and ranking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from aesthetic_curator.engine.device_decode import square_crop_box
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

    def pixels(self, image: Image.Image) -> np.ndarray:
        """The model's square crop as uint8 [H, W, 3]: PIL and numpy only, no torch.

        This is what decode workers run: torch ops in worker threads fight torch's own intra-op
        threads (4x slower per image measured on 2 cores), so conversion and normalisation happen
        once per batch in :meth:`normalise`, on the model's device.
        """
        size = self.image_size
        # The centre square is cut from the source before resizing: the same pixels as resizing the
        # whole photo and then cropping, but the work stays bounded by the square, so a 60000x1 strip
        # costs what a 1x1 image does instead of a 13-megapixel intermediate.
        box = square_crop_box(*image.size, size)
        cropped = image.resize((size, size), Image.Resampling.BICUBIC, box=box)
        return np.array(cropped.convert("RGB") if cropped.mode != "RGB" else cropped, dtype=np.uint8)

    def normalise(self, pixels: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """uint8 [N, H, W, 3] (or one [H, W, 3]) -> normalised float32 [N, 3, H, W] on ``device``.

        On CUDA the uint8 batch (a quarter of float32's bytes) is copied from pinned memory without
        blocking, and the arithmetic runs on the GPU.
        """
        single = pixels.ndim == 3
        batch = pixels[None] if single else pixels
        target = torch.device(device) if device is not None else batch.device
        if target.type == "cuda" and batch.device.type == "cpu":
            batch = batch.pin_memory().to(target, non_blocking=True)
        else:
            batch = batch.to(target)
        mean = torch.tensor(self.mean, device=target).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=target).view(1, 3, 1, 1)
        out = (batch.permute(0, 3, 1, 2).float().div_(255.0) - mean).div_(std)
        return out[0] if single else out

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """One photo as a normalised [3, H, W] tensor (training and tests; ranking batches instead)."""
        return self.normalise(torch.from_numpy(self.pixels(image)))

    def load_pixels(self, path) -> np.ndarray:
        """Decode a file (reduced-scale where possible) into the model's uint8 crop."""
        return self.pixels(decode_image(path, min_size=self.image_size))

    def load(self, path) -> torch.Tensor:
        """Decode a file (reduced-scale where possible) and preprocess it."""
        return self(decode_image(path, min_size=self.image_size))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return self.normalise(torch.from_numpy(np.stack([self.pixels(img) for img in images])))

    @classmethod
    def for_scorer(cls, scorer) -> Preprocessor:
        return cls(scorer.image_size, scorer.mean, scorer.std)
