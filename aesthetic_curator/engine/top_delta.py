"""The weight change of a tuned top, as a profile stores, blends and applies it.

Why a module of its own: profiles, blends and the ranking session handle the change long after the
tuning that made it (:mod:`top_tuning`), and none of them needs the tuning itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.errors import ProfileError

#: The weight changes are stored in half precision: they are small next to the weights they change.
DELTA_DTYPE = torch.float16


@dataclass
class TopDelta:
    """The tuned layers' weight change: parameter name -> tuned minus merged weights."""

    tensors: dict[str, torch.Tensor]

    @property
    def numel(self) -> int:
        return sum(t.numel() for t in self.tensors.values())

    def compact(self) -> TopDelta:
        """The same change in :data:`DELTA_DTYPE` on the CPU (how profiles store it)."""
        return TopDelta({name: t.detach().to("cpu", DELTA_DTYPE).contiguous() for name, t in self.tensors.items()})

    def scaled(self, factor: float) -> TopDelta:
        return TopDelta({name: t * factor for name, t in self.tensors.items()})

    def added_to(self, params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``params`` (merged weights by name) with the change added, as new tensors (autograd sees the sum)."""
        tuned = dict(params)
        for name, change in self.tensors.items():
            tuned[name] = tuned[name] + change.to(tuned[name].device, tuned[name].dtype)
        return tuned

    @torch.no_grad()
    def apply_to(self, scorer: nn.Module) -> nn.Module:
        """Add the change to ``scorer``'s weights in place; a name or shape it lacks is a :class:`ProfileError`."""
        params = dict(scorer.named_parameters())
        for name, change in self.tensors.items():
            target = params.get(name)
            if target is None or tuple(target.shape) != tuple(change.shape):
                raise ProfileError(f"the profile's tuned layer {name} does not fit this model")
            target.add_(change.to(target.device, target.dtype))
        return scorer

    def check(self, origin: str) -> None:
        """Refuse changes no tuning produces (NaN or infinite values would turn every score into NaN)."""
        for name, change in self.tensors.items():
            if not bool(torch.isfinite(change).all()):
                raise ProfileError(f"{origin}: the tuned layer {name} contains NaN or infinite values; it is damaged")


def blend_deltas(a: TopDelta | None, b: TopDelta | None, weight: float) -> TopDelta | None:
    """``weight * a + (1 - weight) * b`` layer by layer, a missing change counting as zero."""
    if a is None and b is None:
        return None
    first, second = (a.tensors if a else {}), (b.tensors if b else {})
    out = {}
    for name in {**first, **second}:
        x, y = first.get(name), second.get(name)
        if x is not None and y is not None and x.shape != y.shape:
            raise ProfileError(f"the two profiles' tuned layer {name} differ in shape")
        parts = [weight * x.float() if x is not None else None, (1.0 - weight) * y.float() if y is not None else None]
        out[name] = sum(p for p in parts if p is not None).to(DELTA_DTYPE)
    return TopDelta(out)


def tuned_scorer(scorer: Scorer, delta: TopDelta | None) -> Scorer:
    """``scorer`` with ``delta`` added (in place), or unchanged without one."""
    if delta is not None:
        delta.apply_to(scorer)
    return scorer


def delta_from_tensors(tensors: Mapping[str, torch.Tensor], prefix: str) -> TopDelta | None:
    """The change stored under ``prefix`` in a profile's tensors (None when there is none)."""
    found = {name.removeprefix(prefix): t for name, t in tensors.items() if name.startswith(prefix)}
    return TopDelta(found) if found else None


__all__ = ["DELTA_DTYPE", "TopDelta", "blend_deltas", "delta_from_tensors", "tuned_scorer"]
