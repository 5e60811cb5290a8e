"""The batched Jacobian (one forward and backward per chunk) equals the per-photo backward it replaces on CPUs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from open_clip.transformer import VisionTransformer
from torch import nn

from aesthetic_curator.builtin_model import builtin_bundle_path
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.scorer import Scorer, ScorerSpec
from aesthetic_curator.engine.solvers.base import PassCounter
from aesthetic_curator.engine.solvers.batched_jacobian import Unsupported, _eval_batch_norm, batched_scores_and_jacobian
from aesthetic_curator.engine.solvers.jacobian import _jacobian_by_backward, scores_and_jacobian
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.progress import Cancelled, CancelToken
from tests.test_builtin_model import DATA, REFERENCE


class SmallConvNet(nn.Module):
    """Every conv2d / batch-norm / linear form the rebuild handles: strides, padding, dilation, groups, biases."""

    output_dim, image_size = 12, 32

    def __init__(self, inplace_after_conv: bool = False, inplace_on_input: bool = False) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.depthwise = nn.Conv2d(8, 8, 5, stride=2, padding=2, groups=8)
        self.grouped = nn.Conv2d(8, 12, 3, padding=2, dilation=2, groups=2)
        self.pointwise = nn.Conv2d(12, 12, 1)
        self.bn2 = nn.BatchNorm2d(12)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 12)
        self.bn3 = nn.BatchNorm1d(12)
        self.act = nn.ReLU(inplace=True)
        self.inplace_after_conv, self.inplace_on_input = inplace_after_conv, inplace_on_input
        for bn in (self.bn1, self.bn2, self.bn3):  # running statistics that are not the identity
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.stem(x)))
        x = self.depthwise(x)
        x = self.act(x) if self.inplace_after_conv else torch.relu(x)
        y = self.pointwise(self.grouped(x))
        if self.inplace_on_input:  # changes the grouped conv's input after it ran: its weight gradient's input
            x.mul_(2.0)
        x = self.act(self.bn2(y))
        return self.bn3(self.fc(self.pool(x).flatten(1)))


def merged_convnet(seed: int = 0, **options) -> MergedScorer:
    torch.manual_seed(seed)
    base = Scorer(ScorerSpec("small-convnet", head_hidden=8), SmallConvNet(**options)).eval()
    names = base.float_parameter_names()
    params = dict(base.named_parameters())
    taus = [{name: 0.1 * torch.randn_like(params[name]) for name in names} for _ in range(3)]
    return MergedScorer(base, taus)


def per_photo_reference(model: MergedScorer, images: torch.Tensor, alpha: torch.Tensor):
    return _jacobian_by_backward(model, images, alpha, PassCounter(), None, None)


def batched(model: MergedScorer, images: torch.Tensor, alpha: torch.Tensor):
    merged = {name: t.detach().requires_grad_(True) for name, t in model.merged_parameters(alpha).items()}
    return batched_scores_and_jacobian(model, merged, images)


@pytest.mark.parametrize("inplace", [False, True], ids=["relu", "relu-in-place"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels-last"])
def test_batched_equals_per_photo_backward_on_every_supported_op(channels_last, inplace):
    """In place too: the output hooks see the gradient of the conv's own output, before the ReLU changes it."""
    model = merged_convnet(inplace_after_conv=inplace)
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    alpha = torch.rand(model.n_tasks, model.n_layers, generator=torch.Generator().manual_seed(2))
    scores, rows, embeddings = batched(model, images, alpha)
    want_scores, want_rows, want_embeddings = per_photo_reference(model, images, alpha)
    assert rows.shape == (5, model.n_tasks, model.n_layers)
    assert torch.allclose(scores, want_scores, atol=1e-5)
    assert torch.allclose(rows, want_rows, atol=1e-5, rtol=1e-4)
    assert torch.allclose(embeddings, want_embeddings, atol=1e-5)
    assert rows.abs().amin(dim=(0, 1)).gt(0).sum() > model.n_layers // 2  # real columns, not zeros


def test_the_builtin_model_gets_the_same_jacobian_batched():
    path = builtin_bundle_path()
    assert path is not None
    model = MergedScorer.from_bundle(Bundle.load(path))
    preprocessor = Preprocessor.for_scorer(model.base)
    images = torch.stack([preprocessor.load(DATA / name) for name in REFERENCE])
    alpha = torch.rand(model.n_tasks, model.n_layers, generator=torch.Generator().manual_seed(3)) * 0.5
    scores, rows, _ = batched(model, images, alpha)
    want_scores, want_rows, _ = per_photo_reference(model, images, alpha)
    assert torch.allclose(scores, want_scores, atol=1e-4)
    assert float((rows - want_rows).abs().max()) < 1e-3 * float(want_rows.abs().max())
    counter = PassCounter()
    _, default_rows, _ = scores_and_jacobian(model, images, alpha, counter, chunk=1)
    assert torch.equal(default_rows, rows) and counter.forward == counter.backward == 2  # the CPU default


def test_the_per_photo_backward_is_the_same_photo_by_photo_and_in_groups(merged, monkeypatch):
    """ViT-B-16's weight gradients fill the memory budget one photo at a time; small models' go in groups."""
    images = Preprocessor.for_scorer(merged.base).batch(synthetic_photos(3, 48, seed=8))
    alpha = torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(9))
    grouped = per_photo_reference(merged, images, alpha)
    monkeypatch.setattr("aesthetic_curator.engine.solvers.jacobian.GRADIENT_GROUP_BYTES", 1)
    one_by_one = per_photo_reference(merged, images, alpha)
    for a, b in zip(grouped, one_by_one):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("photos", [5, 1])
def test_an_open_clip_vit_gets_the_same_jacobian_batched(merged, photos):
    """The test bundle's ViT: self-attention, layer norms, class token, positional embedding, projection."""
    images = Preprocessor.for_scorer(merged.base).batch(synthetic_photos(photos, 48, seed=5))
    alpha = torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(4))
    scores, rows, embeddings = batched(merged, images, alpha)
    want_scores, want_rows, want_embeddings = per_photo_reference(merged, images, alpha)
    assert torch.allclose(scores, want_scores, atol=1e-5)
    assert float((rows - want_rows).abs().max()) < 1e-5 * float(want_rows.abs().max())
    assert torch.allclose(embeddings, want_embeddings, atol=1e-5)
    assert rows.abs().amax(dim=(0, 1)).gt(0).all()  # every layer has a column, class token included
    counter = PassCounter()
    _, default_rows, _ = scores_and_jacobian(merged, images, alpha, counter, chunk=1)
    assert torch.equal(default_rows, rows) and counter.forward == counter.backward == photos


class LayerScaleViT(nn.Module):
    """An OpenCLIP ViT whose blocks scale their branches by merged vectors (``x * gamma``): not rebuilt."""

    image_size = 32

    def __init__(self, **options) -> None:
        super().__init__()
        self.tower = VisionTransformer(32, 8, 32, 1, 4, 2.0, output_dim=12, **options)
        self.output_dim = 12

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tower(x)


class MaskedAttention(nn.Module):
    """Self-attention with a mask: the recorder does not rebuild it."""

    image_size, output_dim = 8, 12

    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(12, 2, batch_first=True)
        self.embed = nn.Linear(24, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x[:, :, :, :8].reshape(x.shape[0], 8, 24))
        mask = torch.zeros(8, 8)
        return self.attention(tokens, tokens, tokens, need_weights=False, attn_mask=mask)[0].mean(1)


def merged_network(visual: nn.Module, seed: int = 0) -> MergedScorer:
    torch.manual_seed(seed)
    base = Scorer(ScorerSpec("small-network", head_hidden=8), visual).eval()
    params = dict(base.named_parameters())
    taus = [{name: 0.1 * torch.randn_like(params[name]) for name in base.float_parameter_names()} for _ in range(2)]
    return MergedScorer(base, taus)


def test_networks_it_does_not_rebuild_are_reported_and_fall_back():
    layer_scale = merged_network(LayerScaleViT(ls_init_value=0.1))
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    alpha = torch.rand(layer_scale.n_tasks, layer_scale.n_layers, generator=torch.Generator().manual_seed(4))
    with pytest.raises(Unsupported, match="mul"):
        batched(layer_scale, images, alpha)
    # The default path gives it the right answer through the per-photo backward.
    _, rows, _ = scores_and_jacobian(layer_scale, images, alpha, PassCounter(), chunk=1)
    assert torch.allclose(rows, per_photo_reference(layer_scale, images, alpha)[1], atol=1e-6)
    masked = merged_network(MaskedAttention())
    masked_alpha = torch.rand(masked.n_tasks, masked.n_layers, generator=torch.Generator().manual_seed(3))
    with pytest.raises(Unsupported, match="attention"):
        batched(masked, images[:, :, :8, :8], masked_alpha)
    inplace = merged_convnet(inplace_on_input=True)
    small = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    small_alpha = torch.rand(inplace.n_tasks, inplace.n_layers, generator=torch.Generator().manual_seed(7))
    with pytest.raises(Unsupported, match="in place"):
        batched(inplace, small, small_alpha)
    training = merged_convnet()
    training.base.visual.bn2.train()
    with pytest.raises(Unsupported, match="training"):
        batched(training, small, small_alpha)


class CancelAfter(CancelToken):
    """A token that cancels itself at its n-th check (the forward's ops, then the backward's hooks)."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left, self.seen = checks, 0

    def check(self) -> None:
        self.seen += 1
        self.left -= 1
        if self.left == 0:
            self.cancel()
        super().check()


def test_cancel_acts_inside_the_forward_and_inside_the_backward(merged):
    images = Preprocessor.for_scorer(merged.base).batch(synthetic_photos(2, 48, seed=5))
    alpha = torch.rand(merged.n_tasks, merged.n_layers, generator=torch.Generator().manual_seed(4))
    merged_weights = {name: t.detach().requires_grad_(True) for name, t in merged.merged_parameters(alpha).items()}
    counting = CancelAfter(10**9)
    batched_scores_and_jacobian(merged, merged_weights, images, counting)
    hooks = len(merged.layer_names)  # at most one per merged op, fewer than the checks in all
    assert counting.seen > hooks
    for at in (3, counting.seen - 2):  # in the forward; in the backward (its last hooks)
        with pytest.raises(Cancelled):
            batched_scores_and_jacobian(merged, merged_weights, images, CancelAfter(at))


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no-affine"])
@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 5), (4, 6, 5, 5)], ids=["1d", "sequence", "2d"])
def test_an_eval_batch_norm_is_recorded_as_the_same_affine_map(affine, shape):
    generator = torch.Generator().manual_seed(11)
    x = torch.randn(*shape, generator=generator)
    if len(shape) == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    mean, var = torch.randn(6, generator=generator), torch.rand(6, generator=generator) + 0.5
    weight = torch.randn(6, generator=generator) if affine else None
    bias = torch.randn(6, generator=generator) if affine else None
    settings = {"input": x, "running_mean": mean, "running_var": var, "weight": weight, "bias": bias, "eps": 1e-3}
    want = F.batch_norm(x, mean, var, weight, bias, training=False, eps=1e-3)
    got = _eval_batch_norm(settings)
    assert torch.allclose(got, want, atol=1e-6)
    assert got.is_contiguous(memory_format=torch.channels_last) == (len(shape) == 4)
