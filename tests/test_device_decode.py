"""Decoding JPEGs on the model's device (engine.device_decode) and the GPU ranking path.

The device path is exercised on the CPU here (torchvision decodes the same lists on either device);
the tests marked for CUDA check nvJPEG and the reduced-precision model where a GPU exists.
Self-contained (no conftest fixtures), so a GPU host can run this file alone with ``--noconftest``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms
from scipy.stats import spearmanr

from aesthetic_curator.engine.device_decode import (
    decode_on_device,
    read_encoded_jpeg,
    resized_square,
    upright,
)
from aesthetic_curator.engine.loading import iter_batches
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import ScoreHead
from aesthetic_curator.images import decode_image

DATA = Path(__file__).parent / "data"
LIVEC_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "livec-sample" / "images"
PRE = Preprocessor(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _real_photos(count: int) -> list[Path]:
    found = sorted(LIVEC_IMAGES.glob("*.jpg"))[:count]
    return found if len(found) == count else [DATA / "1001.jpg", DATA / "1005.jpg"]


def _jpeg_with(path: Path, source: Path, **save) -> Path:
    with Image.open(source) as img:
        img.convert(save.pop("mode", "RGB")).save(path, format="JPEG", quality=92, **save)
    return path


def _mean_difference(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_like_pillow_exif_transpose(orientation, tmp_path):
    """Each EXIF orientation: the tensor turned by ``upright`` equals Pillow's upright picture exactly."""
    pixels = np.random.default_rng(orientation).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"
    Image.fromarray(pixels).save(path, exif=exif)  # lossless, so the comparison can be exact
    expected = np.asarray(decode_image(path))
    got = upright(torch.from_numpy(pixels).permute(2, 0, 1), orientation).permute(1, 2, 0).numpy()
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_resize_matches_pillow_on_the_same_picture():
    """The device's crop + antialiased bicubic is Pillow's resize with the same fractional box, to a fraction
    of a level (Pillow rounds to 8 bits between its two passes), on photos and on shapes whose box is not
    whole pixels."""
    for path in _real_photos(12):
        full = decode_image(path)  # no draft: every source pixel
        tensor = torch.from_numpy(np.array(full)).permute(2, 0, 1)
        assert _mean_difference(resized_square(tensor, 224), PRE.pixels(full)) < 0.2
    with Image.open(_real_photos(1)[0]) as img:
        for size in ((400, 300), (300, 533), (1001, 224), (230, 900)):
            picture = img.convert("RGB").resize(size)
            tensor = torch.from_numpy(np.array(picture)).permute(2, 0, 1)
            assert _mean_difference(resized_square(tensor, 224), PRE.pixels(picture)) < 0.3, size


@pytest.mark.parametrize("size", [(500, 500), (1600, 1200), (1000, 750), (3000, 4000)])
def test_device_decode_follows_the_cpu_paths_reduced_scale_decode(size, tmp_path):
    """The CPU path decodes large JPEGs at 1/2, 1/4 or 1/8 scale (libjpeg); the device decodes every pixel and
    averages blocks of the same size, so both see about the same picture (measured: 0.2-0.4 levels apart
    on average; without the averaging 0.5-1.2, and 2.3 from a whole-pixel crop box at 1600x1200)."""
    path = tmp_path / "photo.jpg"
    with Image.open(_real_photos(1)[0]) as img:
        img.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(path, quality=90)
    crop = decode_on_device([read_encoded_jpeg(path)], 224, "cpu")[0]
    assert _mean_difference(crop, PRE.load_pixels(path)) < 0.6


def test_device_decode_gives_the_cpu_paths_picture():
    """Whole path on the CPU device (torchvision's decoder): within JPEG tolerance of the CPU workers' crop
    (which decodes at a reduced DCT scale), in shape, dtype and content."""
    paths = _real_photos(24)
    encoded = [read_encoded_jpeg(p) for p in paths]
    assert all(e is not None for e in encoded)
    crops = decode_on_device(encoded, 224, "cpu")
    differences = []
    for path, crop in zip(paths, crops):
        assert crop.dtype == torch.uint8 and tuple(crop.shape) == (224, 224, 3)
        differences.append(_mean_difference(crop, PRE.load_pixels(path)))
    assert np.mean(differences) < 0.6 and max(differences) < 1.0


def test_an_oriented_jpeg_comes_out_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; shown rotated 90 degrees clockwise
    source = _real_photos(1)[0]
    with Image.open(source) as img:
        wide = img.convert("RGB").resize((400, 240))
    path = tmp_path / "sideways.jpg"
    wide.save(path, quality=95, exif=exif)
    encoded = read_encoded_jpeg(path)
    assert encoded is not None and encoded.orientation == 6 and (encoded.width, encoded.height) == (400, 240)
    crop = decode_on_device([encoded], 224, "cpu")[0]
    assert _mean_difference(crop, PRE.load_pixels(path)) < 1.0
    unrotated = PRE.pixels(wide)
    assert _mean_difference(crop, unrotated) > 10  # it was turned, not left as stored


def test_files_the_device_must_not_decode_go_to_the_cpu(tmp_path):
    """Not a JPEG, CMYK, a colour profile other than sRGB, an unreadable header: None (the CPU path's job)."""
    source = DATA / "1001.jpg"
    png = tmp_path / "a.png"
    Image.open(source).save(png)
    cmyk = _jpeg_with(tmp_path / "cmyk.jpg", source, mode="CMYK")
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    wide_gamut = _jpeg_with(tmp_path / "lab-profile.jpg", source, icc_profile=lab)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged_srgb = _jpeg_with(tmp_path / "srgb-profile.jpg", source, icc_profile=srgb)
    grey = _jpeg_with(tmp_path / "grey.jpg", source, mode="L")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg at all")
    for path in (png, cmyk, wide_gamut, junk):
        assert read_encoded_jpeg(path) is None, path.name
    for path in (tagged_srgb, grey, source):
        assert read_encoded_jpeg(path) is not None, path.name


def test_a_batch_mixing_device_cpu_and_broken_files_keeps_order_and_reasons(tmp_path):
    """Device-decoded JPEGs, a PNG and a CMYK JPEG decoded by the workers, a JPEG whose header reads but
    whose data is cut (the device fails, then the CPU, so it is skipped with the CPU's reason) and an
    empty file: the batch keeps input order, and every readable photo is the CPU path's picture."""
    photos = _real_photos(3)
    png = tmp_path / "b.png"
    Image.open(photos[1]).save(png)
    cmyk = _jpeg_with(tmp_path / "c.jpg", photos[2], mode="CMYK")
    data = photos[0].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    paths = [photos[0], cut, png, empty, cmyk, photos[1]]
    batches = list(iter_batches(paths, PRE, batch_size=6, workers=2, decode_device="cpu"))
    assert len(batches) == 1
    batch = batches[0]
    assert batch.paths == [photos[0], png, cmyk, photos[1]]
    assert [s.path for s in batch.skipped] == [cut, empty]
    assert "truncated" in batch.skipped[0].reason and "empty" in batch.skipped[1].reason
    assert batch.pixels.dtype == torch.uint8 and tuple(batch.pixels.shape) == (4, 224, 224, 3)
    for row, path in enumerate(batch.paths):
        assert _mean_difference(batch.pixels[row], PRE.load_pixels(path)) < 1.0, path.name
    assert torch.equal(batch.pixels[1], torch.from_numpy(PRE.load_pixels(png)))  # decoded by a worker


class _MeanScorer(torch.nn.Module):
    """Scores a photo by its mean normalised pixel; NaN for a photo that is all white (a stand-in for a
    failure on the device), so a test can tell which photos were scored again."""

    image_size, mean, std = 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        means = images.mean(dim=(1, 2, 3))
        return torch.where(images.amin(dim=(1, 2, 3)) >= 1.0, torch.full_like(means, float("nan")), means)


def test_photos_without_a_finite_score_are_decoded_on_the_cpu_and_scored_again(monkeypatch):
    """The GPU safety net of ranking.score_paths, on the CPU: the device path is forced and its crops of two
    photos are made white (NaN for the stand-in scorer); those two get the score of their CPU-decoded
    pixels, the others keep theirs, and the order is the input's."""
    from aesthetic_curator.engine import loading, ranking

    paths = _real_photos(6)
    real_decode = loading.decode_on_device

    def whitened(files, size, device):
        crops = real_decode(files, size, device)
        for i, file in enumerate(files):
            if file.path in paths[1:3]:
                crops[i] = torch.full_like(crops[i], 255)
        return crops

    monkeypatch.setattr(loading, "decode_on_device", whitened)
    monkeypatch.setattr(ranking, "decode_device_for", lambda device, decode: torch.device("cpu"))
    scorer = _MeanScorer()
    scored, skipped = ranking.score_paths(scorer, paths, batch_size=6, decode="device")
    assert not skipped and [p for p, _ in scored] == paths
    expected = [float(PRE(decode_image(p, min_size=224)).mean()) for p in paths]
    got = [score for _, score in scored]
    assert all(np.isfinite(got))
    assert got[1:3] == pytest.approx(expected[1:3], abs=1e-6)  # the CPU workers' pixels, exactly
    assert got[0] == pytest.approx(expected[0], abs=0.01) and got[3:] == pytest.approx(expected[3:], abs=0.01)
    assert scorer.calls == 2  # the batch, then the two photos again


def test_the_score_is_float32_under_autocast():
    """A bf16 score would tie photos (steps of 1/32 between 4 and 8); the head computes in float32."""
    torch.manual_seed(0)
    head = ScoreHead(32, 16, 0.0, tuple(float(v) for v in range(1, 11))).eval()
    embedding = torch.randn(64, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = head(embedding.to(torch.bfloat16))
    assert scores.dtype == torch.float32
    assert len(set(scores.tolist())) == 64
    assert torch.allclose(scores, head(embedding.to(torch.bfloat16).float()), atol=1e-6)


@cuda
def test_nvjpeg_decodes_like_the_cpu_decoder():
    """On the GPU the same files give the CPU-device tensor path's crops within JPEG IDCT tolerance."""
    paths = _real_photos(32)
    encoded = [read_encoded_jpeg(p) for p in paths]
    on_gpu = decode_on_device(encoded, 224, "cuda")
    on_cpu = decode_on_device(encoded, 224, "cpu")
    for gpu, cpu in zip(on_gpu, on_cpu):
        assert gpu.is_cuda and _mean_difference(gpu.cpu(), cpu) < 1.0


def _livec_quality_model(device: str):
    """The built-in model's LIVE-C quality task model, baked on ``device``."""
    from aesthetic_curator.builtin_model import require_builtin_bundle
    from aesthetic_curator.engine.bundle import Bundle
    from aesthetic_curator.engine.merge import MergedScorer

    bundle = Bundle.load(require_builtin_bundle())
    alpha = torch.zeros(len(bundle.tasks), len(bundle.layers))
    alpha[bundle.task_names.index("livec-quality")] = 1.0
    return MergedScorer.bake_from_bundle(bundle, alpha, device)


@cuda
def test_gpu_ranking_matches_the_cpu_ranking_of_real_photos():
    """A real task model on CUDA (nvJPEG decode, alone or sharing with the CPU workers; bf16 tower, float32
    head) ranks real photos as the float32 CPU path does."""
    from aesthetic_curator.engine.inference import prepare_for_gpu
    from aesthetic_curator.engine.ranking import score_paths

    paths = _real_photos(96)
    reference = dict(score_paths(_livec_quality_model("cpu"), paths, decode="cpu")[0])
    gpu = prepare_for_gpu(_livec_quality_model("cuda"))
    for decode in ("device", "auto"):
        scored = dict(score_paths(gpu, paths, decode=decode, batch_size=40)[0])
        assert list(scored) == paths
        rho = spearmanr([reference[p] for p in paths], [scored[p] for p in paths])[0]
        assert rho >= 0.995, (decode, rho)
        assert len(set(scored.values())) == len(paths)  # no ties from half-precision scores


def test_prepare_for_gpu_leaves_a_cpu_model_as_it_is():
    from aesthetic_curator.engine.inference import prepare_for_gpu

    model = torch.nn.Linear(2, 1)
    assert prepare_for_gpu(model) is model

