"""The faster CPU ranking models keep the ranking: rewritten attention is exact, quantized and exported
models rank real photos like float32."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from aesthetic_curator.builtin_model import require_builtin_bundle
from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.inference import LinearAttention, OnnxScorer, _rewrite_attention, speed_up_for_cpu
from aesthetic_curator.engine.loading import load_images
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.preprocess import Preprocessor


def _livec_photos(livec: Path, count: int) -> list[Path]:
    return sorted((livec / "images").glob("*.jpg"))[:count]


def _scores(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(images[i : i + 16]).float().reshape(-1) for i in range(0, len(images), 16)])


def test_linear_attention_is_multihead_attention_exactly():
    torch.manual_seed(0)
    for batch_first in (True, False):
        attention = nn.MultiheadAttention(32, 4, batch_first=batch_first).eval()
        x = torch.randn(3, 7, 32) if batch_first else torch.randn(7, 3, 32)
        with torch.no_grad():
            expected = attention(x, x, x, need_weights=False)[0]
            got = LinearAttention(attention)(x, x, x, need_weights=False)[0]
        assert (got - expected).abs().max() < 1e-5


def test_the_test_bundles_vit_is_quantized_and_keeps_its_ranking(test_bundle, livec):
    scorer = create_base_scorer(test_bundle)
    images = load_images(_livec_photos(livec, 48), Preprocessor.for_scorer(scorer))[1]
    rewritten = copy.deepcopy(scorer)
    assert _rewrite_attention(rewritten) > 0
    assert (_scores(rewritten, images) - _scores(scorer, images)).abs().max() < 1e-4  # same arithmetic
    fast = speed_up_for_cpu(scorer)
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in fast.modules())
    assert (fast.image_size, fast.mean, fast.std) == (scorer.image_size, scorer.mean, scorer.std)
    assert srocc(_scores(fast, images).numpy(), _scores(scorer, images).numpy()) >= 0.99


def test_the_builtin_model_runs_in_onnx_runtime_with_the_same_scores(livec):
    scorer = create_base_scorer(Bundle.load(require_builtin_bundle()))
    images = load_images(_livec_photos(livec, 32), Preprocessor.for_scorer(scorer))[1]
    fast = speed_up_for_cpu(scorer)
    assert isinstance(fast, OnnxScorer)
    reference, got = _scores(scorer, images), _scores(fast, images)
    assert (got - reference).abs().max() < 1e-3
    assert srocc(got.numpy(), reference.numpy()) >= 0.995
