"""Personalization: fit the (tasks x layers) coefficients to one user's ratings.

The reference solver is the paper's recipe (adaptive softmax init from zero-shot SROCC, then AdamW
on the Bradley–Terry rank loss). Solvers are looked up by name in :data:`SOLVERS` so faster ones
can be added without touching callers. Nothing here knows about Qt: progress goes through a
callback and cancellation through a :class:`CancelToken` checked every step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.rank_loss import bradley_terry_loss
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

#: Fewest rated photos the app accepts; the method is designed for 10-100.
MIN_RATED = 2


@dataclass
class PersonalizeConfig:
    """Settings of one personalization run (defaults: the authors' published script)."""

    solver: str = "paper"  # name in SOLVERS
    steps: int = 500  # optimiser steps
    batch_size: int = 32  # photos per step (all of them when fewer are rated)
    lr: float = 1e-2  # AdamW start learning rate, cosine-annealed ...
    lr_min: float = 1e-3  # ... down to this
    weight_decay: float = 0.0
    temperature: float = 0.1  # softmax temperature of the adaptive init (authors' script: 0.1)
    flip: bool = True  # random horizontal flip of training photos (training only)
    seed: int = 0  # seeds batch order and flips: same seed, same profile
    score_batch_size: int = 64  # photos per forward pass when only scoring


@dataclass
class PassCounter:
    """Per-photo passes through the whole ViT: a forward and a backward each count as one."""

    forward: int = 0
    backward: int = 0

    @property
    def total(self) -> int:
        return self.forward + self.backward


@dataclass
class SolverOutput:
    alpha: torch.Tensor
    steps: int
    final_loss: float | None


@dataclass
class PersonalizationResult:
    """The learned coefficients and what it took to learn them."""

    alpha: torch.Tensor  # [n_tasks, n_layers], on the CPU
    init_alpha: torch.Tensor
    task_names: list[str]
    zero_shot_srocc: dict[str, float]  # each task model alone on the rated photos
    train_srocc: float  # final model on the rated photos (no test labels exist in an app)
    final_loss: float | None
    steps: int
    passes: PassCounter
    seconds: float
    k: int
    config: PersonalizeConfig = field(default_factory=PersonalizeConfig)

    def config_dict(self) -> dict:
        return asdict(self.config)


Solver = Callable[
    [
        MergedScorer,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        PersonalizeConfig,
        PassCounter,
        ProgressCallback | None,
        CancelToken | None,
    ],
    SolverOutput,
]


def validate_ratings(ratings: Sequence[float]) -> torch.Tensor:
    values = torch.tensor([float(r) for r in ratings], dtype=torch.float32)
    if values.numel() < MIN_RATED:
        raise RatingsError(f"need at least {MIN_RATED} rated photos, got {values.numel()}")
    if not torch.isfinite(values).all():
        raise RatingsError("ratings must be finite numbers")
    if torch.unique(values).numel() < 2:
        raise RatingsError("all ratings are equal: give at least two different ratings so there is an order to learn")
    return values


def adaptive_init(task_srocc: Sequence[float], n_layers: int, temperature: float) -> torch.Tensor:
    """alpha_i^l = softmax(SROCC / T)_i for every layer l (the paper's adaptive initialisation)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    weights = torch.softmax(torch.tensor(task_srocc, dtype=torch.float64) / temperature, dim=0).float()
    return weights[:, None].repeat(1, n_layers)


@torch.no_grad()
def score_images(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor | None,
    counter: PassCounter | None = None,
    batch_size: int = 64,
) -> torch.Tensor:
    """Scores of ``images`` under coefficients ``alpha`` (merged once, then batched forwards)."""
    merged = model.merged_parameters(alpha)
    out = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start : start + batch_size]
        out.append(torch.func.functional_call(model.base, merged, (chunk,)).float())
        if counter is not None:
            counter.forward += chunk.shape[0]
    return torch.cat(out)


def zero_shot_srocc(
    model: MergedScorer,
    images: torch.Tensor,
    ratings: torch.Tensor,
    counter: PassCounter,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[float]:
    """SROCC of each task model alone against the user's ratings."""
    values = []
    for task in range(model.n_tasks):
        check(cancel)
        scores = score_images(model, images, model.one_hot(task), counter, batch_size)
        values.append(srocc(scores.cpu().numpy(), ratings.cpu().numpy()))
        report(progress, "zero-shot", task + 1, model.n_tasks)
    return values


def _batches(k: int, batch_size: int, steps: int, generator: torch.Generator):
    """Index batches: every photo each step when K <= batch, else shuffled epochs."""
    if k <= batch_size:
        all_idx = torch.arange(k)
        for _ in range(steps):
            yield all_idx
        return
    order = torch.randperm(k, generator=generator)
    position = 0
    for _ in range(steps):
        if position + batch_size > k:
            order = torch.randperm(k, generator=generator)
            position = 0
        yield order[position : position + batch_size]
        position += batch_size


def solve_paper(
    model: MergedScorer,
    images: torch.Tensor,
    ratings: torch.Tensor,
    init: torch.Tensor,
    config: PersonalizeConfig,
    counter: PassCounter,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> SolverOutput:
    """AdamW on the Bradley–Terry loss, cosine lr from ``lr`` to ``lr_min``, random flips."""
    generator = torch.Generator().manual_seed(config.seed)
    alpha = torch.nn.Parameter(init.clone().to(model.device))
    optimizer = torch.optim.AdamW([alpha], lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.steps), eta_min=config.lr_min)
    loss_value: float | None = None
    steps_done = 0
    for step, idx in enumerate(_batches(images.shape[0], config.batch_size, config.steps, generator)):
        check(cancel)
        batch = images[idx.to(images.device)]
        if config.flip:
            flip = (torch.rand(len(idx), generator=generator) < 0.5).to(images.device)
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        optimizer.zero_grad(set_to_none=True)
        scores = model(batch, alpha)
        counter.forward += len(idx)
        loss, n_pairs = bradley_terry_loss(scores.float(), ratings[idx.to(ratings.device)])
        if n_pairs:
            loss.backward()
            counter.backward += len(idx)
            optimizer.step()
            loss_value = float(loss.detach())
        scheduler.step()
        steps_done = step + 1
        report(progress, "training", steps_done, config.steps, loss_value)
    return SolverOutput(alpha.detach(), steps_done, loss_value)


#: Solvers by name; the paper recipe is the reference every other solver is measured against.
SOLVERS: dict[str, Solver] = {"paper": solve_paper}


def personalize(
    model: MergedScorer,
    images: torch.Tensor,
    ratings: Sequence[float],
    config: PersonalizeConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PersonalizationResult:
    """Fit ``model.alpha`` to ``ratings`` of the preprocessed ``images`` and return the result.

    ``images`` is a [K, 3, H, W] tensor made by the scorer's :class:`Preprocessor`. The model's
    coefficients are set to the learned values on success and left unchanged on cancellation.
    """
    config = config or PersonalizeConfig()
    if config.solver not in SOLVERS:
        raise RatingsError(f"unknown solver '{config.solver}' (available: {', '.join(SOLVERS)})")
    y = validate_ratings(ratings)
    if images.shape[0] != y.numel():
        raise RatingsError(f"{images.shape[0]} images but {y.numel()} ratings")
    started = time.perf_counter()
    images = images.to(model.device)
    y = y.to(model.device)
    counter = PassCounter()
    zero_shot = zero_shot_srocc(model, images, y, counter, config.score_batch_size, progress, cancel)
    init = adaptive_init(zero_shot, model.n_layers, config.temperature).to(model.device)
    log.debug("zero-shot SROCC per task: %s", dict(zip(model.task_names, zero_shot)))
    output = SOLVERS[config.solver](model, images, y, init, config, counter, progress, cancel)
    if output.final_loss is not None and not math.isfinite(output.final_loss):
        raise RatingsError("personalization diverged (non-finite loss); try a lower learning rate")
    with torch.no_grad():
        model.alpha.copy_(output.alpha)
    final_scores = score_images(model, images, None, counter, config.score_batch_size)
    train = srocc(final_scores.cpu().numpy(), y.cpu().numpy())
    seconds = time.perf_counter() - started
    log.debug("personalized on %d photos in %.1fs: train SROCC %.3f", y.numel(), seconds, train)
    return PersonalizationResult(
        alpha=output.alpha.cpu(),
        init_alpha=init.cpu(),
        task_names=list(model.task_names),
        zero_shot_srocc=dict(zip(model.task_names, zero_shot)),
        train_srocc=train,
        final_loss=output.final_loss,
        steps=output.steps,
        passes=counter,
        seconds=seconds,
        k=int(y.numel()),
        config=config,
    )
