"""A task vector: tau = theta_finetuned - theta_pre, one tensor per parameter name.

Task arithmetic (Ilharco et al., mlfoundations/task_vectors) adds, negates and scales these and
applies the sum to the pretrained weights; a personal profile does the same with one scale per
task and layer. :class:`TaskVector` is that object, and also knows its compact int8 encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

from aesthetic_curator.errors import BundleError

StateDict = dict[str, torch.Tensor]

_SCALE_SUFFIX = "#scale"  # int8 matrices carry their per-row scales under NAME#scale


class TaskVector(Mapping[str, torch.Tensor]):
    """Name -> tensor, with the arithmetic of task vectors; read-only as a mapping."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        self._tensors: StateDict = dict(tensors)

    @classmethod
    def between(cls, finetuned: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor]) -> TaskVector:
        """theta_finetuned - theta_pre for every floating-point tensor of the base, by name (float32, CPU)."""
        missing = sorted(set(base) - set(finetuned))
        if missing:
            raise BundleError(f"fine-tuned weights lack {len(missing)} base parameters, e.g. {missing[0]}")
        tau: StateDict = {}
        for name, pre in base.items():
            tuned = finetuned[name]
            if tuned.shape != pre.shape:
                raise BundleError(f"shape of {name} differs: {tuple(tuned.shape)} vs base {tuple(pre.shape)}")
            if pre.is_floating_point():
                tau[name] = tuned.detach().float().cpu() - pre.detach().float().cpu()
        return cls(tau)

    # -- the mapping -------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> torch.Tensor:
        return self._tensors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    # -- arithmetic --------------------------------------------------------------------------------------
    def _same_layers(self, other: TaskVector) -> None:
        if self.keys() != other.keys():
            raise BundleError("task vectors of different models cannot be combined")

    def __add__(self, other: TaskVector) -> TaskVector:
        self._same_layers(other)
        return TaskVector({name: value + other[name] for name, value in self._tensors.items()})

    def __sub__(self, other: TaskVector) -> TaskVector:
        return self + (-other)

    def __neg__(self) -> TaskVector:
        return TaskVector({name: -value for name, value in self._tensors.items()})

    def __mul__(self, scale: float) -> TaskVector:
        return TaskVector({name: value * scale for name, value in self._tensors.items()})

    __rmul__ = __mul__

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> TaskVector:
        return TaskVector({name: value.to(device=device, dtype=dtype) for name, value in self._tensors.items()})

    @torch.no_grad()
    def apply_to(
        self, weights: nn.Module | Mapping[str, torch.Tensor], scale: float | Mapping[str, float] = 1.0
    ) -> None:
        """theta += scale * tau in place, for every layer of this vector; ``scale`` may differ per layer."""
        params = dict(weights.named_parameters()) if isinstance(weights, nn.Module) else weights
        for name, value in self._tensors.items():
            factor = scale if isinstance(scale, (int, float)) else float(scale[name])
            if factor:
                params[name].add_(value.to(params[name].device, params[name].dtype), alpha=factor)

    # -- compact storage ---------------------------------------------------------------------------------
    def _encode(self, matrix: Callable[[torch.Tensor], StateDict]) -> tuple[StateDict, list[str]]:
        """(tensors to store, names of all-zero layers): vectors in float16, matrices by ``matrix``.

        ``matrix`` gets a layer of two or more dimensions and returns its stored tensors, keyed by
        suffix ("" for the values, ``#scale`` for the per-row scales).
        """
        stored: StateDict = {}
        zero: list[str] = []
        for name, value in self._tensors.items():
            value = value.detach().float().cpu()
            if not bool(value.any()):
                zero.append(name)
            elif value.ndim < 2:
                stored[name] = value.to(torch.float16)
            else:
                stored.update({name + suffix: tensor for suffix, tensor in matrix(value).items()})
        return stored, zero

    def encode_int8(self) -> tuple[StateDict, list[str]]:
        """The compact form: (tensors to store, names of all-zero layers).

        Matrices and kernels become int8 with one float32 scale per output row (max |value| / 127), so the
        rounding error of each entry is at most half a step of its own row; vectors (biases, norms) stay
        float16. A quarter of float32's size, half of float16's.
        """

        def matrix(value: torch.Tensor) -> StateDict:
            rows = value.reshape(value.shape[0], -1)
            scale = rows.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / 127.0
            quantised = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8)
            return {"": quantised.reshape(value.shape), _SCALE_SUFFIX: scale}

        return self._encode(matrix)

    def encode_int4(self) -> tuple[StateDict, list[str]]:
        """The smallest form: (tensors to store, names of all-zero layers), a quarter of float16's size.

        Each matrix row is quantized to 15 levels (-7..7) of its own scale (max |value| / 7), two values
        packed in a byte, with the scale in float16; vectors stay float16. Measured on the built-in
        bundle's task vectors: mixed profiles rank photos with SROCC >= 0.9996 against the int8 form, a
        single task alone down to 0.998 (docs/benchmarks.md, "Compact bundles").
        """

        def matrix(value: torch.Tensor) -> StateDict:
            rows = value.reshape(value.shape[0], -1)
            scale = (rows.abs().amax(dim=1) / 7.0).to(torch.float16).float()
            scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a zero row stays zero
            levels = (torch.round(rows / scale[:, None]).clamp(-7, 7) + 8).to(torch.uint8)  # 1..15
            if levels.shape[1] % 2:
                levels = torch.cat([levels, torch.full((levels.shape[0], 1), 8, dtype=torch.uint8)], dim=1)
            return {"": levels[:, 0::2] | (levels[:, 1::2] << 4), _SCALE_SUFFIX: scale.to(torch.float16)}

        return self._encode(matrix)

    @classmethod
    def decode_int4(
        cls,
        tensors: Mapping[str, torch.Tensor],
        layers: Mapping[str, Sequence[int]],
        zero_layers: Sequence[str],
        what: str,
    ) -> TaskVector:
        """The inverse of :meth:`encode_int4` (up to its rounding), checked against the bundle's layers."""
        unpacked: StateDict = {}
        for name, shape in layers.items():
            packed = tensors.get(name)
            if name in zero_layers or packed is None or packed.dtype != torch.uint8:
                continue
            columns = 1
            for dim in shape[1:]:
                columns *= dim
            if packed.ndim != 2 or packed.shape[0] != shape[0] or packed.shape[1] != (columns + 1) // 2:
                raise BundleError(f"{what}: the int4 layer {name} has {list(packed.shape)} bytes for shape {shape}")
            levels = torch.stack([packed & 0x0F, packed >> 4], dim=2).reshape(shape[0], -1)[:, :columns]
            unpacked[name] = (levels.to(torch.int8) - 8).reshape(list(shape))
        merged = {**tensors, **unpacked}
        return cls.decode_int8(merged, layers, zero_layers, what)

    @classmethod
    def decode_int8(
        cls,
        tensors: Mapping[str, torch.Tensor],
        layers: Mapping[str, Sequence[int]],
        zero_layers: Sequence[str],
        what: str,
    ) -> TaskVector:
        """The inverse of :meth:`encode_int8` (up to its rounding), checked against the bundle's layers."""
        device = next(iter(tensors.values())).device if tensors else "cpu"
        out: StateDict = {}
        for name, shape in layers.items():
            if name in zero_layers:
                out[name] = torch.zeros(list(shape), device=device)
            elif name not in tensors:
                raise BundleError(f"{what} does not match the base model's parameters: missing ['{name}']")
            elif tensors[name].dtype == torch.int8:
                scale = tensors.get(name + _SCALE_SUFFIX)
                if scale is None or scale.numel() != tensors[name].shape[0]:
                    raise BundleError(f"{what}: the int8 layer {name} has no scale per row")
                out[name] = tensors[name].float() * scale.float().view(-1, *([1] * (tensors[name].ndim - 1)))
            else:
                out[name] = tensors[name].float()
        extra = sorted(set(tensors) - set(out) - {n + _SCALE_SUFFIX for n in out})
        if extra:
            raise BundleError(f"{what} does not match the base model's parameters: unexpected {extra[:3]}")
        return cls(out)
