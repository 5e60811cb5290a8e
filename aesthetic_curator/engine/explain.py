"""Why a photo scores where it does for a profile: each task's part of its personal score, measured against the
photos the user judged.

A profile's weights are ``θ0 + Σ_t Σ_l α[t, l] · τ_t[l]`` (plus its tuned top). Linearised in the coefficients at
the profile, as the fast solver linearises them, task ``t`` moves photo ``x``'s score by

    C_t(x) = Σ_l α[t, l] · ∂s(x) / ∂α[t, l]

(one forward and one backward per photo: the gradient of the score with respect to the merged weights, dotted
with each task's vector, layer by layer). A photo is explained against the photos the user judged (the ones the
profile learned from): ``D_t(x) = C_t(x) − mean C_t(judged)``. Positive: what this task contributes to your
taste lifts the photo above your typical judged photo; negative: holds it back. The profile's fine-tuned top
(engine.top_tuning) has a part of its own, measured exactly: the score with it minus the score without it,
against the same difference of the judged photos. What neither accounts for (the pretrained network's own
difference between the photos, and what the first-order parts miss) is :attr:`ScoreExplanation.rest`, so the
parts add up to ``s(x) − mean s(judged)``.

Measured on the built-in model with LIVE-C profiles (docs/evaluation.md, "Why these scores"): a task's part
follows the real effect of taking that task out of the profile (Spearman 0.91 over photos and tasks), and the
task named first is the one whose removal lowers the photo most 79 % of the time (chance 9 %); the tasks
together account for part of a photo's distance from the judged mean (Pearson 0.66), the rest is the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.solvers.base import PassCounter, score_images
from aesthetic_curator.engine.solvers.jacobian import PassProgress, scores_and_jacobian
from aesthetic_curator.engine.top_delta import TopDelta
from aesthetic_curator.progress import CancelToken, ProgressCallback

#: How many judged photos at most stand for "your typical photo" (a sample, spread evenly over them): each
#: costs a forward and a backward, as each photo explained (built-in model, two CPU cores: 0.15-0.18 s a photo,
#: 4 photos against 24 judged in 4-5 s, measured 2026-12-07).
MAX_REFERENCE = 24
#: A task is named in a summary when its part is at least this share of the largest part.
NAMED_SHARE = 0.25
#: The name of the fine-tuned top's part among the tasks' parts.
TUNED_TOP = "fine-tuned top"


@dataclass(frozen=True)
class ScoreExplanation:
    """One photo's personal score and each task's part of its distance from the judged photos' mean score."""

    path: Path
    score: float
    parts: dict[str, float]  # task name -> D_t, in score units; and TUNED_TOP's part when the profile has one
    rest: float = 0.0  # the distance from the judged photos' mean score that no part accounts for

    @property
    def explained(self) -> float:
        """The parts' sum: what the tasks account for of the distance from the judged photos' mean score."""
        return sum(self.parts.values())

    def summary(self, most: int = 3) -> str:
        """The tasks that lift the photo and those that hold it back, the strongest first, each named only
        when its part is a real share of the largest ("+ sharpness · + landscape · − exposure")."""
        largest = max((abs(v) for v in self.parts.values()), default=0.0)
        if largest == 0:
            return "no task sets it apart"
        named = [(name, v) for name, v in self.parts.items() if abs(v) >= NAMED_SHARE * largest]
        lifts = sorted((p for p in named if p[1] > 0), key=lambda p: -p[1])[:most]
        holds = sorted((p for p in named if p[1] < 0), key=lambda p: p[1])[:most]
        return " · ".join([f"+ {name}" for name, _ in lifts] + [f"− {name}" for name, _ in holds])


@dataclass(frozen=True)
class Explanations:
    photos: list[ScoreExplanation]
    reference_score: float  # the judged photos' mean personal score
    reference_count: int  # how many judged photos stood for it


def task_contributions(
    model: MergedScorer,
    alpha: torch.Tensor,
    top_delta: TopDelta | None,
    images: torch.Tensor,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scores [n] of ``images`` under the profile (coefficients and tuned top), each task's first-order part
    C_t [n, tasks] of them (the solvers' per-photo Jacobian, taken at the profile's own network: a forward and
    a backward each), and the tuned top's part [n] (the score minus the score without it; zeros without one)."""
    alpha = alpha.detach().to(model.device).float()
    tracker = PassProgress(progress, 2 * len(images), stage="explaining")
    scores, jacobian, _ = scores_and_jacobian(
        model, images, alpha, PassCounter(), 1, cancel, tracker, top_delta=top_delta
    )
    parts = (jacobian * alpha.cpu()).sum(dim=2)
    if top_delta is None:
        return scores, parts, torch.zeros(len(scores))
    return scores, parts, scores - score_images(model, images, alpha, cancel=cancel).float().cpu()


def reference_sample(judged: Sequence[Path], most: int = MAX_REFERENCE) -> list[Path]:
    """At most ``most`` of the judged photos, spread evenly over them (in their order)."""
    if len(judged) <= most:
        return list(judged)
    step = len(judged) / most
    return [judged[int(i * step)] for i in range(most)]


def explain(
    model: MergedScorer,
    alpha: torch.Tensor,
    top_delta: TopDelta | None,
    photos: tuple[Sequence[Path], torch.Tensor],
    reference_images: torch.Tensor,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> Explanations:
    """Each of ``photos`` (paths and their preprocessed images) explained against ``reference_images`` (the
    judged photos' preprocessed images)."""
    paths, images = photos
    both = torch.cat([reference_images, images])
    scores, parts, tuned = task_contributions(model, alpha, top_delta, both, cancel, progress)
    count = len(reference_images)
    names = list(model.task_names)
    if top_delta is not None:
        names, parts = [*names, TUNED_TOP], torch.cat([parts, tuned[:, None]], dim=1)
    mean_score, mean_parts = float(scores[:count].mean()), parts[:count].mean(dim=0)
    explained = []
    for path, score, row in zip(paths, scores[count:].tolist(), (parts[count:] - mean_parts).tolist()):
        rest = score - mean_score - sum(row)
        explained.append(ScoreExplanation(path, score, dict(zip(names, row)), rest))
    return Explanations(explained, mean_score, count)
