"""Decoding JPEGs on the model's device: nvJPEG on a CUDA GPU, batched, with the CPU decoder as fallback.

On a GPU host the CPU side is the bound when ranking: the model scores over a thousand photos a second,
while each decode worker manages a few hundred reduced-scale JPEGs. The GPU's JPEG decoder
(``torchvision.io.decode_jpeg(..., device="cuda")``, the hardware engine of A100/H100-class cards for
baseline JPEGs) takes that work off the cores. Decode workers then only read the file's bytes and its
header (no pixels, no torch math); the batch is decoded in one call on the device, turned upright by its
EXIF orientation, and cut and resized to the model's square as :meth:`Preprocessor.pixels` does on the
CPU: the blocks that libjpeg's reduced-scale decode would merge are averaged, then Pillow's antialiased
bicubic is applied with the same fractional crop box. The result is 0.2-0.4 grey levels (mean absolute) from
the CPU path's crop (tests/test_device_decode.py), so the model sees the pixels it was trained and
personalized on.

A file goes the CPU way instead when the device path could not give the same picture: not a JPEG, CMYK,
a colour profile other than sRGB (the CPU path converts it), or a decode error on the device (the batch is
then decoded file by file and only the failing files are decoded on the CPU).
"""

from __future__ import annotations

import functools
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms

from aesthetic_curator.images import MAX_IMAGE_PIXELS, describes_srgb, exif_orientation, jpeg_draft_request

log = logging.getLogger(__name__)

#: Decoded pixels per device call, so that a batch of 12-megapixel photos stays within ~1.5 GB of GPU memory.
MAX_PIXELS_PER_CALL = 512_000_000
#: Pixels reduced and resized at once (as float32: ~0.8 GB of GPU memory).
MAX_PIXELS_PER_STACK = 64_000_000


@dataclass(frozen=True)
class EncodedJpeg:
    """A JPEG file's bytes and what its header says, read by a decode worker for the device to decode."""

    path: Path
    data: np.ndarray  # uint8 [bytes]
    width: int  # as stored, before the orientation
    height: int
    orientation: int  # EXIF orientation 1-8 (1: as stored)


def read_encoded_jpeg(path: Path) -> EncodedJpeg | None:
    """The file's bytes when the device can decode it to the same picture as the CPU path, else None.

    Reads only the header and the bytes (no decoding), so it is cheap for a worker thread. None for
    anything the CPU path must handle: other formats, CMYK/YCCK, a non-sRGB colour profile, a picture over
    :data:`MAX_IMAGE_PIXELS`, an unreadable header (the CPU path then reports the reason).
    """
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "JPEG" or img.mode not in ("RGB", "L"):
                return None
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS or min(width, height) < 1:
                return None
            icc = img.info.get("icc_profile")
            if icc and not _is_srgb(icc):
                return None
            orientation = exif_orientation(img)
    except Exception:  # any header trouble: the CPU path decodes and reports it with its reason
        return None
    return EncodedJpeg(path, np.frombuffer(bytearray(data), dtype=np.uint8), width, height, orientation)


def _is_srgb(icc: bytes) -> bool:
    try:
        return describes_srgb(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return True  # the CPU path ignores an unusable profile too


def upright(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation to a [C, H, W] tensor (the same transposes as Pillow's ``exif_transpose``)."""
    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-2, -1)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-2, -1)
    if orientation == 6:
        return torch.rot90(image, -1, dims=(-2, -1))
    if orientation == 7:
        return image.transpose(-2, -1).flip(-2, -1)
    if orientation == 8:
        return torch.rot90(image, 1, dims=(-2, -1))
    return image


def square_crop_box(width: int, height: int, size: int) -> tuple[float, float, float, float]:
    """The source region (left, top, right, bottom) that becomes the model's ``size`` x ``size`` input:
    the shorter side resized to ``size``, the centre square cut (:meth:`Preprocessor.pixels` uses it too)."""
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return (left / scale, top / scale, (left + size) / scale, (top + size) / scale)


def draft_factor(width: int, height: int, size: int) -> int:
    """By how much the CPU path's libjpeg reduces this JPEG while decoding it (1, 2, 4 or 8): Pillow's rule
    in ``JpegImageFile.draft`` for the size that :func:`images.decode_image` asks for."""
    request = jpeg_draft_request(width, height, size)
    if request is None:
        return 1
    scale = min(width // request[0], height // request[1])
    return next(factor for factor in (8, 4, 2, 1) if scale >= factor)


def reduced_like_libjpeg(image: torch.Tensor, factor: int) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> float [..., 3, ceil(H / factor), ceil(W / factor)]: the mean of each factor x
    factor block, which is what libjpeg's scaled inverse DCT approximates, so that the device sees about the
    pixels the CPU path's reduced-scale decode gives (the model was trained and personalized on those)."""
    pixels = image.float()
    if factor == 1:
        return pixels
    return F.avg_pool2d(pixels, factor, stride=factor, ceil_mode=True)


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Pillow's bicubic kernel (a = -0.5)."""
    a, x = -0.5, np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


@functools.lru_cache(maxsize=64)
def _resampling_weights(source: int, target: int, start: float, end: float, device: torch.device) -> torch.Tensor:
    """[target, source] weights of Pillow's antialiased bicubic resize of the span [start, end) (fractional,
    as ``Image.resize(box=...)`` takes it): the same taps and normalisation as its ``precompute_coeffs``."""
    scale = (end - start) / target
    stretch = max(scale, 1.0)
    centres = start + (np.arange(target) + 0.5) * scale
    first = np.maximum(np.trunc(centres - 2.0 * stretch + 0.5), 0)
    last = np.minimum(np.trunc(centres + 2.0 * stretch + 0.5), source)
    positions = np.arange(source)
    weights = _bicubic((positions[None, :] - centres[:, None] + 0.5) / stretch)
    weights *= (positions[None, :] >= first[:, None]) & (positions[None, :] < last[:, None])
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, totals, out=np.zeros_like(weights), where=totals != 0)
    return torch.from_numpy(weights.astype(np.float32)).to(device)


def resized_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """[..., 3, H, W] pixels, 0-255 (upright, on any device) -> uint8 [..., size, size, 3]: the centre square by
    Pillow's antialiased bicubic with the same fractional box as :meth:`Preprocessor.pixels` (two matrix
    products), rounded to 8 bits as Pillow's result is."""
    height, width = image.shape[-2:]
    left, top, right, bottom = square_crop_box(width, height, size)
    across = _resampling_weights(width, size, left, right, image.device)  # [size, W]
    down = _resampling_weights(height, size, top, bottom, image.device)  # [size, H]
    resized = down @ (image.float() @ across.T)  # [..., 3, size, size]
    return resized.round_().clamp_(0, 255).to(torch.uint8).movedim(-3, -1)


def _decode(data: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision 0.29 announces that its decoders move to TorchCodec
        decoded = decode_jpeg(list(data), mode=ImageReadMode.RGB, device=device)
    return list(decoded)


def decode_on_device(files: Sequence[EncodedJpeg], size: int, device: torch.device | str) -> list[torch.Tensor | None]:
    """Each file as the model's uint8 [size, size, 3] crop on ``device``; None where the device failed.

    Files are decoded together (one call per :data:`MAX_PIXELS_PER_CALL` pixels); when a call fails, its
    files are decoded one by one so that only the damaged ones come back None (for the CPU decoder). Photos
    of one size and orientation (an album's usual case) are reduced and resized as one stack.
    """
    device = torch.device(device)
    out: list[torch.Tensor | None] = [None] * len(files)
    for group in _groups(files):
        data = [torch.from_numpy(files[i].data) for i in group]
        try:
            decoded: list[torch.Tensor | None] = _decode(data, device)
        except RuntimeError as exc:
            log.debug("batched device decode failed (%s); decoding file by file", exc)
            decoded = []
            for i, tensor in zip(group, data):
                try:
                    decoded.extend(_decode([tensor], device))
                except RuntimeError as single:
                    log.debug("device decode failed for %s (%s); the CPU decodes it", files[i].path, single)
                    decoded.append(None)
        alike: dict[tuple[int, int, int, int], list[int]] = {}
        for i, image in zip(group, decoded):
            if image is not None:
                alike.setdefault((*image.shape[-2:], files[i].orientation), []).append(i)
                out[i] = image
        for (height, width, orientation), members in alike.items():
            factor = draft_factor(width, height, size)  # decoded as stored: the orientation comes after
            per_stack = max(1, MAX_PIXELS_PER_STACK // (height * width))
            for start in range(0, len(members), per_stack):
                chunk = members[start : start + per_stack]
                stack = torch.stack([out[i] for i in chunk])  # [n, 3, H, W] uint8
                crops = resized_square(upright(reduced_like_libjpeg(stack, factor), orientation), size)
                for i, crop in zip(chunk, crops):
                    out[i] = crop
    return out


def _groups(files: Sequence[EncodedJpeg]) -> list[list[int]]:
    groups: list[list[int]] = [[]]
    pixels = 0
    for i, file in enumerate(files):
        area = file.width * file.height
        if groups[-1] and pixels + area > MAX_PIXELS_PER_CALL:
            groups.append([])
            pixels = 0
        groups[-1].append(i)
        pixels += area
    return [g for g in groups if g]


@functools.lru_cache(maxsize=8)
def device_decoding_works(device: torch.device) -> bool:
    """Whether this torch/torchvision build decodes JPEGs on ``device`` (probed once with a tiny JPEG)."""
    if device.type != "cuda":
        return False
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 100, 50)).save(buffer, format="JPEG")
    try:
        image = _decode([torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)], device)[0]
    except Exception as exc:  # no nvJPEG in this build, an old driver, ...
        log.info("JPEG decoding on %s is not available (%s); decoding on the CPU", device, exc)
        return False
    return image.shape == (3, 16, 16)
