"""Shaping a profile by hand: scale a task's coefficients, blend two profiles, or take the plain average.

A profile is its coefficients plus, where the top of the network was fine-tuned, that change of the top's
weights (engine.profile, engine.top_tuning). Each edit is exact arithmetic on them and the result is an
ordinary profile: the merged network of a scaled profile applies that task's fine-tuned change more or less
strongly in every layer (the tuned top's change is kept as it is); a blend w·A + (1 − w)·B is the profile
whose merged weights lie that far between A's and B's (the merge is linear in the coefficients, and the
tuned changes are blended with the same weight). What a derived profile was made from is
kept in its ``extra["derived"]``; the measured agreement of its source does not carry over, so it is dropped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import torch

from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.top_delta import blend_deltas
from aesthetic_curator.errors import ProfileError

#: A slider goes from 0 (the task is switched off) to this multiple of the learned coefficients.
MAX_SCALE = 3.0
#: The name of the all-tasks-equal profile (what "hidden gems" compare a profile against).
PLAIN_AVERAGE = "plain average"


def scale_tasks(profile: Profile, scales: dict[str, float]) -> Profile:
    """``profile`` with each named task's coefficients (every layer) multiplied by its scale."""
    unknown = sorted(set(scales) - set(profile.task_names))
    if unknown:
        raise ProfileError(f"profile '{profile.name}' has no task named {', '.join(unknown)}")
    for task, scale in scales.items():
        if not 0.0 <= scale <= MAX_SCALE:
            raise ProfileError(f"the scale of {task} must be between 0 and {MAX_SCALE:g}, not {scale:g}")
    factors = torch.tensor([float(scales.get(task, 1.0)) for task in profile.task_names], dtype=profile.alpha.dtype)
    changed = {task: round(float(scale), 4) for task, scale in scales.items() if scale != 1.0}
    return _derived(profile, profile.alpha * factors[:, None], {"from": profile.name, "scaled": changed})


def blend_profiles(a: Profile, b: Profile, weight: float, name: str) -> Profile:
    """The profile ``weight``·A + (1 − ``weight``)·B; both must come from the same bundle."""
    if not 0.0 <= weight <= 1.0:
        raise ProfileError(f"the blend weight must be between 0 and 1, not {weight:g}")
    if a.bundle_id != b.bundle_id or a.task_names != b.task_names or a.alpha.shape != b.alpha.shape:
        raise ProfileError(
            f"profiles '{a.name}' and '{b.name}' were made with different model bundles and cannot be blended"
        )
    alpha = weight * a.alpha + (1.0 - weight) * b.alpha
    blended = _derived(a, alpha, {"blend": {"a": a.name, "b": b.name, "weight": round(weight, 4)}})
    blended.top_delta = blend_deltas(a.top_delta, b.top_delta, weight)
    blended.name = name
    blended.k = max(a.k, b.k)
    blended.zero_shot_srocc = {}
    return blended


def plain_average(bundle: Bundle) -> Profile:
    """Every task counted equally in every layer (alpha = 1/T): the bundle's verdict with no taste in it."""
    tasks, layers = len(bundle.tasks), len(bundle.layers)
    return Profile(
        alpha=torch.full((tasks, layers), 1.0 / tasks),
        bundle_id=bundle.bundle_id,
        task_names=list(bundle.task_names),
        n_layers=layers,
        k=0,
        temperature=0.0,
        zero_shot_srocc={},
        train_srocc=float("nan"),
        name=PLAIN_AVERAGE,
        solver="none",
        extra={"derived": {"plain_average": True}},
    )


def _derived(source: Profile, alpha: torch.Tensor, how: dict) -> Profile:
    extra = {key: value for key, value in source.extra.items() if key != "agreement"}
    profile = replace(
        source,
        alpha=alpha.detach().clone().float(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        extra={**extra, "derived": how},
    )
    profile.check_coefficients(f"profile '{source.name}'")
    return profile
