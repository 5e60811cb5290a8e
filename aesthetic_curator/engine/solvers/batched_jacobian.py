"""Per-photo coefficient gradients from one batched forward and backward (on a CPU).

A plain backward per photo (:func:`jacobian._jacobian_by_backward`) runs the network at batch 1, where a
CPU is slowest, and computes every layer's weight gradient only to contract it with the task vectors.
Here a chunk of photos goes forward together while a torch-function mode (:class:`_OpRecorder`) records
every op that uses a merged layer: its input, and a hook on its output. One backward of the chunk's summed
scores, asked only for the photos' gradient (so no weight gradient is computed), hands each hook its op's
output gradient per photo, because in eval mode the photos of a batch do not interact. A hook receives the
gradient with respect to the output as the op produced it, even when an in-place activation changes the
output afterwards, so nothing has to be copied. Each photo's weight gradient is then rebuilt from its op's
input and output gradient and contracted with the task vectors (:meth:`MergedScorer.layer_coefficient_gradients`).

The ops rebuilt: ``conv2d``, ``linear``, ``batch_norm`` (convolutional networks such as the built-in
model) and ``layer_norm``, self-attention (``multi_head_attention_forward``, run as its two linear maps
around ``scaled_dot_product_attention``), a merged tensor added to a batch (a positional embedding), a
batch times a merged matrix (a projection) and a merged tensor reshaped and expanded over the batch (a
class token): all of an OpenCLIP ViT's. A network whose merged layers reach the scores any other way, or
through ops in training mode, is reported as unsupported, and the caller keeps the per-photo backward.
The result equals the per-photo backward's to float rounding (tests/test_batched_jacobian.py); the speed
is in docs/benchmarks.md.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.progress import CancelToken, check

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
    input: torch.Tensor | None  # None for ops whose weight gradient is their output's (add, broadcast)
    settings: dict
    input_version: int  # the input's version counter when recorded: an in-place change would move it
    grad: torch.Tensor | None = None  # set by the output's hook during the backward
    cancel: CancelToken | None = None

    def keep_gradient(self, grad: torch.Tensor) -> None:
        check(self.cancel)  # the backward of a ViT chunk takes seconds: Cancel acts at the next layer
        self.grad = grad


_ARGUMENTS: dict[Callable, tuple[str, ...]] = {
    F.conv2d: ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    F.linear: ("input", "weight", "bias"),
    F.batch_norm: ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
    F.layer_norm: ("input", "normalized_shape", "weight", "bias", "eps"),
}
#: Built once: each recorded op binds its arguments to these names.
_SIGNATURES = {
    func: inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    for func, names in _ARGUMENTS.items()
}
_KINDS = {F.conv2d: "conv2d", F.linear: "linear", F.batch_norm: "batch_norm", F.layer_norm: "layer_norm"}
_DEFAULTS = {
    "conv2d": {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1},
    "linear": {"bias": None},
    "batch_norm": {"weight": None, "bias": None, "training": False, "momentum": 0.1, "eps": 1e-5},
    "layer_norm": {"weight": None, "bias": None, "eps": 1e-5},
}
_ADDS = {torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.Tensor.__radd__}
_MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__}
#: Ops that only reshape or relabel a merged tensor, keeping its elements in order.
_RESHAPES = {
    torch.Tensor.view,
    torch.Tensor.reshape,
    torch.reshape,
    torch.Tensor.expand,
    torch.Tensor.unsqueeze,
    torch.unsqueeze,
    torch.Tensor.flatten,
    torch.flatten,
    torch.Tensor.to,
    torch.Tensor.type_as,
}
_ATTENTION = inspect.signature(F.multi_head_attention_forward)


class _OpRecorder(TorchFunctionMode):
    """Records each supported op that uses a merged layer; stops the forward at any other op that does.

    Stopping at once (raising :class:`Unsupported` from inside the forward) means a network that falls
    back to the per-photo backward pays for a few ops of one chunk, not a whole forward.
    """

    def __init__(self, merged: list[torch.Tensor], batch: int, cancel: CancelToken | None = None) -> None:
        super().__init__()
        self.layer_of = {id(tensor): index for index, tensor in enumerate(merged)}
        self.sizes = [tensor.numel() for tensor in merged]
        self.batch, self.cancel = batch, cancel
        self.uses: list[_Use] = []
        # Merged tensors reshaped but not yet expanded over the batch: id -> (layer, tensor kept alive).
        self.derived: dict[int, tuple[int, torch.Tensor]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        check(self.cancel)
        if func in _SIGNATURES:
            return self._weighted(func, args, kwargs)
        if func is F.multi_head_attention_forward and self._tracked(args, kwargs):
            bound = _ATTENTION.bind(*args, **kwargs)
            bound.apply_defaults()
            return self._attention(bound.arguments)
        if func in _ADDS and len(args) == 2 and not kwargs:
            recorded = self._added(func, *args)
            if recorded is not None:
                return recorded
        if func in _MATMULS and len(args) == 2 and not kwargs:
            recorded = self._projected(func, *args)
            if recorded is not None:
                return recorded
        if func in _RESHAPES and args and self._origin(args[0]) is not None:
            return self._reshaped(func, args, kwargs)
        output = func(*args, **kwargs)
        if self._tracked(args, kwargs) and any(isinstance(o, torch.Tensor) for o in tree_leaves(output)):
            raise Unsupported(f"{getattr(func, '__name__', func)} uses a merged layer")
        return output

    def _layer(self, tensor: object) -> int | None:
        return self.layer_of.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None

    def _origin(self, tensor: object) -> int | None:
        """The merged layer ``tensor`` is or was reshaped from, if any."""
        if not isinstance(tensor, torch.Tensor):
            return None
        if id(tensor) in self.derived:
            return self.derived[id(tensor)][0]
        return self.layer_of.get(id(tensor))

    def _tracked(self, args: tuple, kwargs: dict) -> bool:
        return any(self._origin(a) is not None for a in tree_leaves((args, kwargs)))

    def _record(
        self,
        kind: str,
        output: torch.Tensor,
        weight: int | None,
        bias: int | None,
        x: torch.Tensor | None,
        settings: dict,
    ) -> torch.Tensor:
        """Keeps ``x`` (whose first dimension must be the photos) and hooks ``output`` for its gradient."""
        if x is not None and (x.dim() == 0 or x.shape[0] != self.batch):
            raise Unsupported(f"{kind} on an input whose first dimension is not the photos")
        use = _Use(kind, weight, bias, x, settings, x._version if x is not None else 0, cancel=self.cancel)
        if output.requires_grad:  # no hook fires otherwise, and the check after the backward says so
            output.register_hook(use.keep_gradient)
        self.uses.append(use)
        return output

    def _weighted(self, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
        """conv2d, linear, batch_norm or layer_norm: recorded when its weight or bias is merged."""
        kind = _KINDS[func]
        settings = {**_DEFAULTS[kind], **_SIGNATURES[func].bind(*args, **kwargs).arguments}
        weight, bias = self._layer(settings.get("weight")), self._layer(settings.get("bias"))
        others = [v for k, v in settings.items() if k not in ("weight", "bias") or id(v) in self.derived]
        if any(self._origin(v) is not None for v in others):
            raise Unsupported(f"{kind} with a merged layer as its input")
        if weight is None and bias is None:
            return func(*args, **kwargs)
        if kind == "batch_norm" and settings["training"]:
            raise Unsupported("batch_norm in training mode")
        if kind == "conv2d" and isinstance(settings["padding"], str) and settings["padding"] != "valid":
            raise Unsupported(f"conv2d with padding={settings['padding']!r}")
        output = _eval_batch_norm(settings) if kind == "batch_norm" else func(*args, **kwargs)
        return self._record(kind, output, weight, bias, settings["input"], settings)

    def _added(self, func: Callable, a: object, b: object) -> torch.Tensor | None:
        """``batch + merged`` (a positional embedding): the merged tensor's gradient is the sum's."""
        layers = (self._layer(a), self._layer(b))
        if (layers[0] is None) == (layers[1] is None):
            return None
        layer, other = (layers[0], b) if layers[0] is not None else (layers[1], a)
        merged = a if layers[0] is not None else b
        if self._origin(other) is not None or not isinstance(other, torch.Tensor):
            return None
        output = func(a, b)
        if output.dim() <= merged.dim() or output.shape[0] != self.batch or other.shape[0] != self.batch:
            raise Unsupported("a merged tensor added along the photos' dimension")
        return self._record("add", output, layer, None, None, {"shape": merged.shape})

    def _projected(self, func: Callable, a: object, b: object) -> torch.Tensor | None:
        """``batch @ merged`` with a merged [in, out] matrix (a ViT's final projection)."""
        layer = self._layer(b)
        if layer is None or self._origin(a) is not None or not isinstance(a, torch.Tensor) or b.dim() != 2:
            return None
        return self._record("matmul", func(a, b), layer, None, a, {})

    def _reshaped(self, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:
        """A merged tensor reshaped (kept as derived) and then expanded over the photos (recorded)."""
        source = args[0]
        layer = self._origin(source)
        if self._tracked(args[1:], kwargs):
            raise Unsupported(f"{getattr(func, '__name__', func)} of two merged layers")
        output = func(*args, **kwargs)
        if output is source:  # .to() of the dtype it has
            return output
        size = self.sizes[layer]
        per_photo = output.numel() // self.batch if output.dim() and output.shape[0] == self.batch else -1
        if per_photo == size and (self.batch == 1 or output.stride(0) == 0):
            # Not on the photos' path, so the backward is asked for its gradient directly (no hook).
            self.uses.append(_Use("broadcast", layer, None, None, {"output": output}, 0, cancel=self.cancel))
            return output
        if output.numel() != size:
            raise Unsupported(f"{getattr(func, '__name__', func)} repeats a merged layer within a photo")
        self.derived[id(output)] = (layer, output)
        return output

    def _attention(self, a: dict) -> tuple[torch.Tensor, None]:
        """``multi_head_attention_forward`` of a self-attention, as recorded linear maps around SDPA.

        The same arithmetic as torch's own path without attention weights (which calls
        ``scaled_dot_product_attention`` too), with the photos first so the projections are rebuilt per photo.
        """
        query = a["query"]
        plain = (
            a["key"] is query
            and a["value"] is query
            and query.dim() == 3
            and not (a["use_separate_proj_weight"] or a["add_zero_attn"] or a["need_weights"] or a["is_causal"])
            and (a["dropout_p"] == 0.0 or not a["training"])
            and all(a[name] is None for name in ("bias_k", "bias_v", "key_padding_mask", "attn_mask"))
            and all(a[name] is None for name in ("static_k", "static_v"))
        )
        if not plain:
            raise Unsupported("attention other than plain self-attention without weights")
        length, batch, width = query.shape
        heads = a["num_heads"]
        if self._origin(query) is not None or width % heads:
            raise Unsupported("attention over a merged layer")
        x = query.transpose(0, 1)  # [photos, tokens, width]
        qkv = self._weighted(F.linear, (x, a["in_proj_weight"], a["in_proj_bias"]), {})
        q, k, v = qkv.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4).unbind(0)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, length, width)
        out = self._weighted(F.linear, (attended, a["out_proj_weight"], a["out_proj_bias"]), {})
        return out.transpose(0, 1), None


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


def _sum_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A batch's gradient [B, *out] summed per photo over the dimensions ``shape`` was broadcast along."""
    padded = (1,) * (grad.dim() - 1 - len(shape)) + tuple(shape)
    dims = [1 + i for i, size in enumerate(padded) if size == 1 and grad.shape[1 + i] != 1]
    summed = grad.sum(dims, keepdim=True) if dims else grad
    return summed.reshape(grad.shape[0], *shape)


def _per_photo_gradients(use: _Use, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(weight, bias) gradients per photo, [B, *shape] each, from the op's input and output gradient."""
    x, s = use.input, use.settings
    batch = grad.shape[0]
    if use.kind == "broadcast":  # the merged tensor itself, one copy per photo
        return grad.reshape(batch, -1), None
    if use.kind == "add":
        return _sum_to(grad, s["shape"]), None
    if use.kind == "matmul":
        x2, g2 = x.reshape(batch, -1, x.shape[-1]), grad.reshape(batch, -1, grad.shape[-1])
        return torch.bmm(x2.transpose(1, 2), g2), None
    if use.kind == "layer_norm":
        size = math.prod(s["normalized_shape"])
        x2, g2 = x.reshape(batch, -1, size), grad.reshape(batch, -1, size)
        variance, mean = torch.var_mean(x2, dim=-1, correction=0, keepdim=True)
        normalised = (x2 - mean) * torch.rsqrt(variance + s["eps"])
        weight = (g2 * normalised).sum(1) if use.weight is not None else None
        return weight, (g2.sum(1) if use.bias is not None else None)
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
    model: MergedScorer,
    merged: dict[str, torch.Tensor],
    photos: torch.Tensor,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scores [B], coefficient gradients [B, tasks, layers] and embeddings [B, dim] of a chunk of photos.

    ``merged`` are the merged weights, each requiring grad. Raises :class:`Unsupported` for a network
    this cannot handle; nothing is counted or reported here. ``cancel`` is checked at every op of the
    forward and every recorded op of the backward (a ViT-B-16 chunk takes seconds on a CPU).
    """
    recorder = _OpRecorder([merged[name] for name in model.layer_names], photos.shape[0], cancel)
    photos = photos.detach().requires_grad_(True)  # the backward is asked for this; the hooks do the rest
    with torch.enable_grad(), recorder:
        embeddings, scores = model.embed_and_score(merged, photos)
    used = {u.weight for u in recorder.uses} | {u.bias for u in recorder.uses}
    missing = [name for index, name in enumerate(model.layer_names) if index not in used]
    if missing:
        raise Unsupported(f"merged layers that no recorded op used: {missing[:3]}")
    changed = [u.kind for u in recorder.uses if u.input is not None and u.input._version != u.input_version]
    if changed:  # its rebuilt weight gradient would be wrong (and autograd's own backward would refuse)
        raise Unsupported(f"the input of {changed[0]} is changed in place")
    # A merged tensor expanded over the photos (a class token) is off the photos' path: asked for directly.
    broadcast = [u for u in recorder.uses if u.kind == "broadcast"]
    gradients = torch.autograd.grad(scores.float().sum(), [photos] + [u.settings["output"] for u in broadcast])
    for use, gradient in zip(broadcast, gradients[1:]):
        use.grad = gradient
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
