"""Per-photo coefficient gradients from one batched forward and backward (convolutional networks on a CPU).

A plain backward per photo (:func:`jacobian._jacobian_by_backward`) runs the network at batch 1, where a
CPU is slowest, and computes every layer's weight gradient only to contract it with the task vectors.
Here a chunk of photos goes forward together while a torch-function mode (:class:`_OpRecorder`) records
every op that uses a merged layer (``conv2d``, ``linear``, ``batch_norm``): its input, and a hook on its
output. One backward of the chunk's summed scores, asked only for the photos' gradient (so no weight
gradient is computed), hands each hook its op's output gradient per photo, because in eval mode the photos
of a batch do not interact. A hook receives the gradient with respect to the output as the op produced
it, even when an in-place activation changes the output afterwards, so nothing has to be copied. Each
photo's weight gradient is then rebuilt from its op's input and output gradient and contracted with the
task vectors (:meth:`MergedScorer.layer_coefficient_gradients`).

A network whose merged layers reach the scores any other way (a ViT's attention weights, embeddings,
layer norms) or through ops in training mode is reported as unsupported, and the caller keeps the
per-photo backward. The result equals the per-photo backward's to float rounding (tests/test_batched_jacobian.py);
the speed is in docs/benchmarks.md.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from aesthetic_curator.engine.merge import MergedScorer

log = logging.getLogger(__name__)

#: Photos per batched forward + backward: 8 and 16 measured the same per photo on 2 cores, and 8 saves less.
BATCH = 8


class Unsupported(Exception):
    """The network uses a merged layer in a way the per-photo gradients are not rebuilt for (so: fall back)."""


@dataclass
class _Use:
    """One op that used merged layers: which, with what input and settings, and its output's gradient."""

    kind: str
    weight: int | None  # index in model.layer_names, None when the op's weight is not merged
    bias: int | None
    input: torch.Tensor
    settings: dict
    input_version: int  # the input's version counter when recorded: an in-place change would move it
    grad: torch.Tensor | None = None  # set by the output's hook during the backward

    def keep_gradient(self, grad: torch.Tensor) -> None:
        self.grad = grad


_ARGUMENTS: dict[Callable, tuple[str, ...]] = {
    F.conv2d: ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    F.linear: ("input", "weight", "bias"),
    F.batch_norm: ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
}
#: Built once: each recorded op binds its arguments to these names.
_SIGNATURES = {
    func: inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    for func, names in _ARGUMENTS.items()
}
_KINDS = {F.conv2d: "conv2d", F.linear: "linear", F.batch_norm: "batch_norm"}
_DEFAULTS = {
    "conv2d": {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1},
    "linear": {"bias": None},
    "batch_norm": {"weight": None, "bias": None, "training": False, "momentum": 0.1, "eps": 1e-5},
}


class _OpRecorder(TorchFunctionMode):
    """Records each supported op that uses a merged layer; stops the forward at any other op that does.

    Stopping at once (raising :class:`Unsupported` from inside the forward) means a network that falls
    back to the per-photo backward, such as a ViT, pays for a few ops of one chunk, not a whole forward.
    """

    def __init__(self, layer_of: dict[int, int]) -> None:
        super().__init__()
        self.layer_of = layer_of
        self.uses: list[_Use] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kind = _KINDS.get(func)
        if kind is None:
            output = func(*args, **kwargs)
            tracked = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor) and id(a) in self.layer_of]
            if tracked and any(isinstance(o, torch.Tensor) for o in tree_leaves(output)):
                raise Unsupported(f"{getattr(func, '__name__', func)} uses a merged layer")
            return output
        bound = _SIGNATURES[func].bind(*args, **kwargs).arguments
        settings = {**_DEFAULTS[kind], **bound}
        weight = self._layer(settings.get("weight"))
        bias = self._layer(settings.get("bias"))
        others = [v for k, v in settings.items() if k not in ("weight", "bias") and isinstance(v, torch.Tensor)]
        if any(id(v) in self.layer_of for v in others):
            raise Unsupported(f"{kind} with a merged layer as its input")
        if weight is None and bias is None:
            return func(*args, **kwargs)
        if kind == "batch_norm" and settings["training"]:
            raise Unsupported("batch_norm in training mode")
        if kind == "conv2d" and isinstance(settings["padding"], str) and settings["padding"] != "valid":
            raise Unsupported(f"conv2d with padding={settings['padding']!r}")
        output = _eval_batch_norm(settings) if kind == "batch_norm" else func(*args, **kwargs)
        use = _Use(kind, weight, bias, settings["input"], settings, settings["input"]._version)
        if output.requires_grad:  # no hook fires otherwise, and the check after the backward says so
            output.register_hook(use.keep_gradient)
        self.uses.append(use)
        return output

    def _layer(self, tensor: object) -> int | None:
        return self.layer_of.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None


def _eval_batch_norm(settings: dict) -> torch.Tensor:
    """An eval-mode batch norm as the per-channel affine map it is, ``x * scale + shift``.

    Same values as ``F.batch_norm`` to float rounding, but its backward to the input is one product,
    where autograd's batch-norm backward took 15 % of a built-in model's Jacobian (docs/benchmarks.md).
    """
    x = settings["input"]
    channels = x.shape[1]
    mean, var = settings["running_mean"], settings["running_var"]
    inverse = torch.rsqrt(var + settings["eps"]) if var is not None else torch.ones(channels, device=x.device)
    scale = inverse if settings["weight"] is None else inverse * settings["weight"]
    shift = -mean * scale if mean is not None else torch.zeros_like(scale)
    if settings["bias"] is not None:
        shift = shift + settings["bias"]
    shape = (1, channels) + (1,) * (x.dim() - 2)
    return torch.addcmul(shift.reshape(shape), x, scale.reshape(shape))


def _pair(value: int | tuple[int, ...] | str) -> tuple[int, int]:
    if value == "valid":
        return (0, 0)
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def _sum_spatial(tensor: torch.Tensor) -> torch.Tensor:
    """[B, C, ...] summed to [B, C] (``sum(())`` would sum everything)."""
    return tensor.sum(tuple(range(2, tensor.dim()))) if tensor.dim() > 2 else tensor


def _per_photo_gradients(use: _Use, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(weight, bias) gradients per photo, [B, *shape] each, from the op's input and output gradient."""
    x, s = use.input, use.settings
    batch = grad.shape[0]
    if use.kind == "linear":
        x2, g2 = x.reshape(batch, -1, x.shape[-1]), grad.reshape(batch, -1, grad.shape[-1])
        weight = torch.bmm(g2.transpose(1, 2), x2) if use.weight is not None else None
        return weight, (g2.sum(1) if use.bias is not None else None)
    if use.kind == "batch_norm":
        # d/dgamma = sum(grad * (x - mean) * rstd) = rstd * (sum(grad * x) - mean * sum(grad)): one batched
        # dot product per channel, without the normalised input (measured 5-15x faster at 112 px).
        channels = x.shape[1]
        bias = _sum_spatial(grad)
        if use.weight is None:
            return None, bias
        mean = s["running_mean"] if s["running_mean"] is not None else torch.zeros(channels, device=x.device)
        var = s["running_var"] if s["running_var"] is not None else torch.ones(channels, device=x.device)
        if x.is_contiguous() and grad.is_contiguous():
            dots = torch.bmm(grad.reshape(batch * channels, 1, -1), x.reshape(batch * channels, -1, 1))
        else:  # channels-last activations: a plain product and sum reads them in place, a reshape would copy
            dots = _sum_spatial(grad * x)
        weight = (dots.reshape(batch, channels) - mean * bias) * torch.rsqrt(var + s["eps"])
        return weight, (bias if use.bias is not None else None)
    # conv2d
    w = s["weight"]
    out_channels, _, kh, kw = w.shape
    g = grad.reshape(batch, out_channels, -1)
    bias = g.sum(-1) if use.bias is not None else None
    if use.weight is None:
        return None, bias
    stride, padding, dilation = _pair(s["stride"]), _pair(s["padding"]), _pair(s["dilation"])
    if (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0) and s["groups"] == 1:
        return torch.bmm(g, x.reshape(batch, x.shape[1], -1).transpose(1, 2)).reshape(batch, *w.shape), bias
    return _conv_weight_gradients(x, grad, w.shape, s["groups"], stride, padding, dilation), bias


def _conv_weight_gradients(
    x: torch.Tensor,
    grad: torch.Tensor,
    shape: torch.Size,
    groups: int,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> torch.Tensor:
    """Per-photo weight gradients [B, *shape] of a conv2d, from one call for the whole chunk.

    With the photos as extra groups, every photo's gradient is the weight gradient of one grouped
    convolution. For 3x3 kernels torch's own weight backward does that fastest; for larger kernels it
    is slow on a CPU (10x at 5x5) and the gradient is computed as a convolution itself: the input
    channels within a group as its batch, the output gradients as its kernels, the op's stride as its
    dilation and its dilation as its stride. Both measured against unfolding the input (im2col), 4-10x faster.
    """
    batch, out_channels = grad.shape[:2]
    _, in_per_group, kh, kw = shape
    if (kh, kw) == (3, 3):
        weight = torch.empty(batch * out_channels, in_per_group, kh, kw, dtype=grad.dtype, device=grad.device)
        _, gradients, _ = torch.ops.aten.convolution_backward(
            grad.reshape(1, batch * out_channels, *grad.shape[-2:]),
            x.reshape(1, batch * x.shape[1], *x.shape[-2:]),
            weight,
            None,
            list(stride),
            list(padding),
            list(dilation),
            False,
            [0, 0],
            batch * groups,
            [False, True, False],
        )
        return gradients.reshape(batch, *shape)
    out_per_group = out_channels // groups
    if padding != (0, 0):
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    height, width = x.shape[-2:]
    inputs = x.reshape(batch * groups, in_per_group, height, width).transpose(0, 1)
    kernels = grad.reshape(batch * groups * out_per_group, 1, *grad.shape[-2:])
    correlated = F.conv2d(inputs, kernels, stride=dilation, dilation=stride, groups=batch * groups)
    correlated = correlated[..., :kh, :kw].reshape(in_per_group, batch, groups, out_per_group, kh, kw)
    return correlated.permute(1, 2, 3, 0, 4, 5).reshape(batch, *shape)


def batched_scores_and_jacobian(
    model: MergedScorer, merged: dict[str, torch.Tensor], photos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scores [B], coefficient gradients [B, tasks, layers] and embeddings [B, dim] of a chunk of photos.

    ``merged`` are the merged weights, each requiring grad. Raises :class:`Unsupported` for a network
    this cannot handle; nothing is counted or reported here.
    """
    layer_of = {id(merged[name]): index for index, name in enumerate(model.layer_names)}
    recorder = _OpRecorder(layer_of)
    photos = photos.detach().requires_grad_(True)  # the backward is asked for this; the hooks do the rest
    with torch.enable_grad(), recorder:
        embeddings, scores = model.embed_and_score(merged, photos)
    used = {u.weight for u in recorder.uses} | {u.bias for u in recorder.uses}
    missing = [name for index, name in enumerate(model.layer_names) if index not in used]
    if missing:
        raise Unsupported(f"merged layers used outside conv2d/linear/batch_norm: {missing[:3]}")
    changed = [u.kind for u in recorder.uses if u.input._version != u.input_version]
    if changed:  # its rebuilt weight gradient would be wrong (and autograd's own backward would refuse)
        raise Unsupported(f"the input of {changed[0]} is changed in place")
    torch.autograd.grad(scores.float().sum(), photos)
    unreached = [u.kind for u in recorder.uses if u.grad is None]
    if unreached:
        raise Unsupported(f"the output of {unreached[0]} does not depend on the photos")
    rows = torch.zeros(photos.shape[0], model.n_tasks, model.n_layers, device=scores.device)
    with torch.no_grad():
        for use in recorder.uses:
            weight, bias = _per_photo_gradients(use, use.grad)
            for layer, per_photo in ((use.weight, weight), (use.bias, bias)):
                if layer is not None and per_photo is not None:
                    rows[:, :, layer] += model.layer_coefficient_gradients(layer, per_photo).float()
    return scores.detach().float().reshape(-1), rows, embeddings.detach()
