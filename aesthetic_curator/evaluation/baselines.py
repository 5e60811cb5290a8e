"""What a practitioner would reach for instead of task-vector coefficients, on the same draws.

- **Linear probe**: a Bradley–Terry linear model on the frozen base tower's features (standardised),
  with a ridge penalty chosen by cross-validation over the support photos. It costs one pass per
  photo and no backpropagation, so it is the cheap baseline to beat.
- **Best-fit FT** (the paper's Table 5): take the task model that agrees best with the support set
  zero-shot and fine-tune all its weights on the support set with the same rank loss (AdamW,
  cosine learning rate, flips; batch-norm statistics frozen). The strong, expensive baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.rank_loss import (
    bradley_terry_loss,
    cross_validated_choice,
    held_out_pair_splits,
    indexed_pair_loss,
    preference_pairs,
)
from aesthetic_curator.engine.scorer import Scorer, freeze_norm_statistics
from aesthetic_curator.factory.recipe import cosine_lr

PROBE = "linear probe"
BEST_FIT_FT = "best-fit FT"
BASELINE_METHODS = (PROBE, BEST_FIT_FT)

RIDGE_CANDIDATES = (10.0, 1.0, 0.1, 0.01)  # most regularised first: ties go to the safest
PROBE_FOLDS = 5


@torch.no_grad()
def frozen_features(model: MergedScorer, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """The base tower's embeddings of every photo (the same for all tasks and users)."""
    visual = model.base.visual.eval()
    out = [
        visual(images[start : start + batch_size].to(model.device)).float().cpu()
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


def fit_pair_probe(features: torch.Tensor, hi: torch.Tensor, lo: torch.Tensor, ridge: float) -> torch.Tensor:
    """Bradley–Terry weights over ``features`` [N, F] from ordered pairs (row hi[i] above row lo[i]): the
    mean pair loss plus ``ridge`` / 2 |w|² / N (also the linear learner of docs/pair_ceiling.py)."""
    weights = torch.zeros(features.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")
    x = features.double()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = indexed_pair_loss(x @ weights, hi, lo) + 0.5 * ridge * weights.pow(2).sum() / len(x)
        loss.backward()
        return loss

    optimizer.step(closure)
    return weights.detach()


def linear_probe_scores(
    features: torch.Tensor, support: torch.Tensor, ratings: torch.Tensor, seed: int
) -> torch.Tensor:
    """Scores of every photo under a ridge-penalised Bradley–Terry probe fitted on the support set."""
    mean, std = features[support].mean(0), features[support].std(0).clamp(min=1e-6)
    x = (features - mean) / std
    xs = x[support]
    hi, lo = preference_pairs(ratings[support]).nonzero(as_tuple=True)
    splits = held_out_pair_splits(hi, lo, len(support), PROBE_FOLDS, seed)

    def held_out(ridge: float, train: torch.Tensor, valid: torch.Tensor) -> float:
        weights = fit_pair_probe(xs, hi[train], lo[train], ridge)
        return float(indexed_pair_loss(xs.double() @ weights, hi[valid], lo[valid]))

    ridge = cross_validated_choice(RIDGE_CANDIDATES, splits, held_out)
    return (x.double() @ fit_pair_probe(xs, hi, lo, ridge)).float()


@dataclass(frozen=True)
class FineTuneConfig:
    steps: int = 30
    lr: float = 1e-4
    batch_size: int = 16
    weight_decay: float = 0.01


def best_fit_finetune(
    model: MergedScorer,
    task: int,
    images: torch.Tensor,
    ratings: torch.Tensor,
    config: FineTuneConfig,
    seed: int,
) -> tuple[Scorer, int]:
    """Fine-tune task ``task``'s own model on the support photos; returns it and the passes it cost."""
    scorer = model.bake(model.one_hot(task))
    for parameter in scorer.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    scorer.train()
    freeze_norm_statistics(scorer)
    scorer.head.projection[2].eval()  # no dropout: the comparison is about the weights, not regularisation noise
    passes = 0
    batch = min(config.batch_size, len(images))
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(config.lr, 0.0, step, config.steps)
        index = torch.randperm(len(images), generator=generator)[:batch]
        flips = torch.rand(batch, generator=generator) < 0.5
        x = images[index].to(model.device)
        x = torch.where(flips.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
        loss, n_pairs = bradley_terry_loss(scorer(x), ratings[index].to(model.device))
        passes += batch
        if n_pairs == 0:
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    for parameter in scorer.parameters():
        parameter.requires_grad_(False)
    return scorer.eval(), passes


@torch.no_grad()
def scorer_scores(scorer: Scorer, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    device = next(scorer.parameters()).device
    out = [scorer(images[s : s + batch_size].to(device)).float().cpu() for s in range(0, len(images), batch_size)]
    return torch.cat(out)


__all__ = [
    "BASELINE_METHODS",
    "BEST_FIT_FT",
    "PROBE",
    "FineTuneConfig",
    "best_fit_finetune",
    "frozen_features",
    "linear_probe_scores",
    "scorer_scores",
]
