"""Making a baked personal model faster for ranking on a CPU, without changing its ranking.

What pays on these CPUs (docs/benchmarks.md, "CPU inference"):

- **Transformers (ViT):** dynamic int8 quantization of every linear layer (one weight scale per output row). PyTorch's
  ``quantize_dynamic`` leaves ``nn.MultiheadAttention`` alone (its fused input projection is a bare
  parameter), a quarter of each block's work, so attention is first rewritten as two ordinary linear
  layers around ``scaled_dot_product_attention`` (:class:`LinearAttention`, the same arithmetic).
- **Convolutional towers (the built-in EfficientNet):** the model exported to ONNX (in memory, about a
  second) and run by ONNX Runtime, whose fused convolution kernels beat eager PyTorch by about 2x on these
  cores with the same scores (max difference ~1e-6). Int8 dynamic quantization does not cover
  convolutions. Without ONNX Runtime, a traced and frozen TorchScript graph (``torch.jit.freeze`` folds
  batch norm into the convolutions; about 1.5x) is used instead.

On a GPU, :func:`prepare_for_gpu` converts the image tower to bf16 (fp16 on cards without bf16) and a
convolutional tower to channels-last, once, instead of autocast casting every weight on every batch; the
scoring head stays float32 (a bf16 score would tie photos). docs/benchmarks.md ("GPU ranking") has the
measurements. Both return a model for inference only: no gradients, fixed input size.
"""

from __future__ import annotations

import copy
import io
import logging
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from aesthetic_curator.engine.devices import autocast_dtype

log = logging.getLogger(__name__)


class LinearAttention(nn.Module):
    """``nn.MultiheadAttention`` for self-attention without weights returned, as two ``nn.Linear``.

    Same parameters and arithmetic (scaled dot-product attention), but the projections are ordinary
    linear layers, which dynamic quantization can then turn into int8 matrix products.
    """

    def __init__(self, attention: nn.MultiheadAttention) -> None:
        super().__init__()
        if not attention._qkv_same_embed_dim or attention.bias_k is not None:
            raise ValueError("only plain self-attention is rewritten")
        dim = attention.embed_dim
        self.heads = attention.num_heads
        self.batch_first = attention.batch_first
        self.in_proj = nn.Linear(dim, 3 * dim, bias=attention.in_proj_bias is not None)
        self.in_proj.weight = nn.Parameter(attention.in_proj_weight.detach().clone())
        if attention.in_proj_bias is not None:
            self.in_proj.bias = nn.Parameter(attention.in_proj_bias.detach().clone())
        self.out_proj = nn.Linear(dim, dim, bias=attention.out_proj.bias is not None)
        self.out_proj.load_state_dict(attention.out_proj.state_dict())

    def forward(self, query, key=None, value=None, need_weights=False, attn_mask=None, **_):
        x = query if self.batch_first else query.transpose(0, 1)  # [batch, tokens, dim]
        batch, tokens, dim = x.shape
        qkv = self.in_proj(x).view(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        mask = attn_mask.to(qkv.dtype) if attn_mask is not None else None
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, tokens, dim))
        return (out if self.batch_first else out.transpose(0, 1)), None


def _rewrite_attention(model: nn.Module) -> int:
    count = 0
    for name, child in list(model.named_children()):
        if isinstance(child, nn.MultiheadAttention):
            setattr(model, name, LinearAttention(child))
            count += 1
        else:
            count += _rewrite_attention(child)
    return count


def _is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) and m.kernel_size != m.stride for m in model.modules())


class OnnxScorer(nn.Module):
    """A scorer exported to ONNX and run by ONNX Runtime on the CPU (float32, the same arithmetic)."""

    def __init__(self, scorer: nn.Module, image_size: int) -> None:
        super().__init__()
        import onnxruntime

        buffer = io.BytesIO()
        example = torch.zeros(2, 3, image_size, image_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
            torch.onnx.export(
                scorer,
                (example,),
                buffer,
                input_names=["images"],
                output_names=["scores"],
                dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        array = images.detach().float().contiguous().cpu().numpy()
        return torch.from_numpy(self.session.run(None, {"images": array})[0]).reshape(-1)


class FrozenGraph(nn.Module):
    """A traced, frozen TorchScript graph of a scorer (batch norm folded into the convolutions)."""

    def __init__(self, scorer: nn.Module, image_size: int) -> None:
        super().__init__()
        example = torch.zeros(2, 3, image_size, image_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warns about Python-side shape checks in timm
            self.graph = torch.jit.freeze(torch.jit.trace(scorer, example, check_trace=False))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.graph(images)


@torch.no_grad()
def speed_up_for_cpu(scorer: nn.Module) -> nn.Module:
    """A faster copy of ``scorer`` for CPU inference (see the module docstring); ``scorer`` is untouched.

    The copy keeps ``image_size``, ``mean`` and ``std``, so ranking treats it like the original.
    """
    model = copy.deepcopy(scorer).eval()
    size = scorer.image_size
    fast: nn.Module
    if _is_convolutional(model):
        try:
            fast, how = OnnxScorer(model, size), "ONNX Runtime"
        except Exception as exc:  # no onnxruntime, or an operator it cannot export: the TorchScript path
            log.info("ONNX Runtime not used for ranking (%s); using a frozen TorchScript graph", exc)
            fast, how = FrozenGraph(model, size), "frozen TorchScript graph"
    else:
        rewritten = _rewrite_attention(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
            per_channel = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}  # one scale per row
            fast = torch.ao.quantization.quantize_dynamic(model, per_channel, dtype=torch.qint8)
        how = f"int8 dynamic quantization of the linear layers ({rewritten} attention layers rewritten)"
    for name in ("image_size", "mean", "std"):
        setattr(fast, name, getattr(scorer, name))
    log.debug("CPU inference: %s", how)
    return fast


class ReducedPrecisionScorer(nn.Module):
    """A scorer for GPU inference: the image tower in half precision (channels-last when convolutional), the
    scoring head in float32 on the tower's output."""

    def __init__(self, scorer: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.channels_last = _is_convolutional(scorer.visual)
        visual = copy.deepcopy(scorer.visual).eval().to(dtype)
        self.visual = visual.to(memory_format=torch.channels_last) if self.channels_last else visual
        self.head = copy.deepcopy(scorer.head).eval().float()
        for name in ("image_size", "mean", "std"):
            setattr(self, name, getattr(scorer, name))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.dtype)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.head(self.visual(images).float())


@torch.no_grad()
def prepare_for_gpu(scorer: nn.Module) -> nn.Module:
    """A copy of ``scorer`` for ranking on its CUDA device (see the module docstring); ``scorer`` is untouched.

    A model not on a CUDA device is returned as it is.
    """
    parameter = next(scorer.parameters(), None)
    dtype = autocast_dtype(parameter.device) if parameter is not None else None
    if dtype is None:
        return scorer
    return ReducedPrecisionScorer(scorer, dtype)
