"""Decoding photos the same way everywhere, and choosing a device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.errors import DeviceError, ImageDecodeError
from aesthetic_curator.images import MAX_IMAGE_PIXELS, decode_image


def _exif_rotated_jpeg(path, orientation: int) -> None:
    img = Image.new("RGB", (60, 30), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 30, 30))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    _exif_rotated_jpeg(path, 6)  # rotate 90° clockwise for display
    img = decode_image(path)
    assert img.size == (30, 60)
    top = img.getpixel((15, 5))
    assert top[2] > 200 and top[0] < 60  # the blue half ends up on top


@pytest.mark.parametrize("mode", ["P", "CMYK", "L", "RGBA", "I;16"])
def test_odd_modes_decode_to_rgb(tmp_path, mode):
    path = tmp_path / f"img_{mode.replace(';', '')}.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"
    Image.new(mode, (20, 10)).save(path)
    img = decode_image(path)
    assert img.mode == "RGB" and img.size == (20, 10)


def test_bad_files_raise_readable_errors(tmp_path):
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, not a photo")
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(good)
    (tmp_path / "truncated.jpg").write_bytes(good.read_bytes()[:200])
    for name, reason in (("zero.jpg", "empty"), ("text.jpg", "not a recognised"), ("truncated.jpg", "cannot decode")):
        with pytest.raises(ImageDecodeError, match=reason):
            decode_image(tmp_path / name)


def test_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    Image.new("1", (side, side)).save(path)  # 1-bit: tiny file, huge decoded size
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode_image(path)


def test_reduced_scale_jpeg_decode_keeps_enough_pixels(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (1600, 1200), (120, 80, 40)).save(path)
    img = decode_image(path, min_size=224)
    assert min(img.size) >= 224 and img.size[0] < 1600


def test_preprocessor_shape_and_normalisation():
    pre = Preprocessor(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    tensor = pre(Image.new("RGB", (80, 40), (255, 255, 255)))
    assert tensor.shape == (3, 32, 32)
    assert torch.allclose(tensor, torch.ones_like(tensor))


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_colour_profiles_srgb_kept_broken_ignored(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(tmp_path / "srgb.png", icc_profile=srgb)
    assert decode_image(tmp_path / "srgb.png").getpixel((0, 0)) == (200, 100, 50)
    Image.new("RGB", (8, 8), (200, 100, 50)).save(tmp_path / "broken.png", icc_profile=b"not a profile")
    assert decode_image(tmp_path / "broken.png").getpixel((0, 0)) == (200, 100, 50)


def _reference_preprocess(pre: Preprocessor, image: Image.Image) -> torch.Tensor:
    """The preprocessing as it was before the uint8 pipeline: float math per photo, in the worker."""
    size = pre.image_size
    width, height = image.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    box = (left / scale, top / scale, (left + size) / scale, (top + size) / scale)
    cropped = image.resize((size, size), Image.Resampling.BICUBIC, box=box)
    tensor = torch.from_numpy(np.asarray(cropped, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (tensor - torch.tensor(pre.mean).view(3, 1, 1)) / torch.tensor(pre.std).view(3, 1, 1)


def test_uint8_pipeline_equals_the_float_preprocessing_on_real_photos():
    """Workers now hand over uint8 crops and a batch is normalised once; the numbers must not change."""
    from aesthetic_curator.engine.loading import iter_batches

    data = Path(__file__).parent / "data"
    paths = [data / "1001.jpg", data / "1005.jpg"]
    pre = Preprocessor(224, (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
    batches = list(iter_batches(paths, pre, batch_size=2, workers=2))
    assert len(batches) == 1 and batches[0].pixels.dtype == torch.uint8
    assert tuple(batches[0].pixels.shape) == (2, 224, 224, 3)
    got = batches[0].model_input("cpu")
    expected = torch.stack([_reference_preprocess(pre, decode_image(p, min_size=224)) for p in paths])
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-5
    assert torch.equal(pre(decode_image(paths[0], min_size=224)), got[0])  # one photo, the same path
