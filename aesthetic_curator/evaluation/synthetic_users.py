"""Synthetic users: people whose taste is known exactly, so any solver can be scored without data.

Two kinds, alternating:

* ``merged``: the taste *is* a merged model of the bundle, with coefficients that differ per task
  and per layer (a Dirichlet task mix plus an independent deviation per task and layer), plus
  noise. The right coefficients exist, so a solver can in principle recover it ("realizable").
* ``nonlinear``: a non-linear mix of two task models' scores (one counts linearly, the other only
  above its median) plus noise. No coefficients reproduce it exactly.

Both rate like a person: the noisy taste is quantised to 1-5 stars with most photos in the middle.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.solvers.base import score_images
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

#: Share of photos at or below 1, 2, 3 and 4 stars (the rest get 5): a typical photographer's spread.
STAR_QUANTILES = (0.10, 0.30, 0.65, 0.90)
KINDS = ("merged", "nonlinear")
#: Standard deviation of a synthetic user's answers around their standardised taste.
SYNTHETIC_NOISE = 0.2


@dataclass
class SyntheticUser:
    name: str
    kind: str
    images: torch.Tensor  # preprocessed [N, 3, H, W]
    ratings: torch.Tensor  # stars, 1..5
    taste: torch.Tensor  # the noiseless hidden taste


def quantise_to_stars(values: torch.Tensor) -> torch.Tensor:
    """1-5 stars by the quantiles in :data:`STAR_QUANTILES`."""
    cuts = torch.quantile(values.double(), torch.tensor(STAR_QUANTILES, dtype=torch.float64))
    return (torch.bucketize(values.double(), cuts, right=True) + 1).float()


def _standardise(values: torch.Tensor) -> torch.Tensor:
    return (values - values.mean()) / values.std().clamp_min(1e-8)


def make_synthetic_users(
    model: MergedScorer,
    count: int,
    photos_per_user: int = 200,
    seed: int = 0,
    noise: float = SYNTHETIC_NOISE,
    deviation: float = 0.3,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[SyntheticUser]:
    """``count`` users, each with their own ``photos_per_user`` synthetic photos, reproducible from ``seed``."""
    preprocessor = Preprocessor.for_scorer(model.base)
    users = []
    for index in range(count):
        check(cancel)
        generator = torch.Generator().manual_seed(seed * 10_007 + index)
        images = preprocessor.batch(synthetic_photos(photos_per_user, 48, seed=seed * 10_007 + index))
        kind = KINDS[index % len(KINDS)]
        if kind == "merged":
            exponentials = -torch.log(torch.rand(model.n_tasks, generator=generator))
            weights = exponentials / exponentials.sum()  # a Dirichlet(1, ..., 1) draw from our own generator
            hidden = weights[:, None] + deviation * torch.randn(model.n_tasks, model.n_layers, generator=generator)
            taste = score_images(model, images, hidden.to(model.device)).cpu()
        else:
            first, second = torch.randperm(model.n_tasks, generator=generator)[:2].tolist()
            a = _standardise(score_images(model, images, model.one_hot(first)).cpu())
            b = _standardise(score_images(model, images, model.one_hot(second)).cpu())
            weight = float(torch.rand((), generator=generator)) * 0.5 + 0.25
            taste = weight * a + (1 - weight) * torch.relu(b) * 1.5
        noisy = _standardise(taste) + noise * torch.randn(taste.shape, generator=generator)
        users.append(SyntheticUser(f"synthetic-{index:02d}-{kind}", kind, images, quantise_to_stars(noisy), taste))
        report(progress, "synthetic users", index + 1, count)
    return users
