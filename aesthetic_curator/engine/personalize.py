"""Personalization: fit the (tasks x layers) coefficients to one user's ratings.

Every solver starts from the paper's adaptive init (softmax of each task's zero-shot SROCC on the
rated photos). The reference is the paper's recipe (``paper``: AdamW on the Bradley–Terry loss);
the default is the damped Gauss–Newton solver (``fast``), which matches it with a small fraction of
the passes. Solvers are looked up by name in :mod:`engine.solvers`. Nothing here knows about Qt: progress
goes through a callback and cancellation through a :class:`CancelToken` checked every step.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from aesthetic_curator.engine.loading import SkippedImage
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.solvers import DEFAULT_SOLVER, get_solver, solver_names
from aesthetic_curator.engine.solvers.base import PassCounter, PersonalizeConfig, SolverRun, score_images
from aesthetic_curator.errors import RatingsError
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

__all__ = [
    "DEFAULT_SOLVER",
    "PassCounter",
    "PersonalizationResult",
    "PersonalizeConfig",
    "adaptive_init",
    "personalize",
    "planned_passes",
    "score_images",
    "solver_names",
    "validate_ratings",
    "zero_shot_srocc",
    "zero_shot_subset",
]

log = logging.getLogger(__name__)

#: Fewest rated photos the app accepts; the method is designed for 10-100.
MIN_RATED = 2


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
    skipped: list[SkippedImage] = field(default_factory=list)  # rated photos that could not be decoded

    def config_dict(self) -> dict:
        return asdict(self.config)


def validate_ratings(ratings: Sequence[float]) -> torch.Tensor:
    """The ratings as dense ranks (0 = lowest), float32.

    Only their order is ever used (pairs and rank correlations), and ranks keep it exactly where
    float32 would not: ratings near ±1e308 overflow it, and close values such as 1e9 and 1e9 + 1
    would become ties.
    """
    values = np.asarray([float(r) for r in ratings], dtype=np.float64)
    if values.size < MIN_RATED:
        raise RatingsError(f"need at least {MIN_RATED} rated photos, got {values.size}")
    if not np.isfinite(values).all():
        raise RatingsError("ratings must be finite numbers")
    distinct, ranks = np.unique(values, return_inverse=True)
    if distinct.size < 2:
        raise RatingsError("all ratings are equal: give at least two different ratings so there is an order to learn")
    return torch.from_numpy(ranks.reshape(-1).astype(np.float32))


def adaptive_init(task_srocc: Sequence[float], n_layers: int, temperature: float) -> torch.Tensor:
    """alpha_i^l = softmax(SROCC / T)_i for every layer l (the paper's adaptive initialisation)."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    weights = torch.softmax(torch.tensor(task_srocc, dtype=torch.float64) / temperature, dim=0).float()
    return weights[:, None].repeat(1, n_layers)


def zero_shot_srocc(
    model: MergedScorer,
    images: torch.Tensor,
    ratings: torch.Tensor,
    counter: PassCounter,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    screen: int | None = None,
    refine: int = 2,
) -> list[float]:
    """SROCC of each task model alone against the user's ratings.

    With ``screen`` (the fast solver's default, ``Solver.zero_shot_screen_size``), every task
    is scored on the first ``screen`` photos and only the ``refine`` best on all of them: the softmax
    init gives the others almost no weight, and the passes saved buy a solver step. The photos must
    then come in a random order, as :func:`zero_shot_subset` gives them.
    """
    if screen is None or screen >= ratings.numel() or torch.unique(ratings[:screen]).numel() < 2:
        screen = ratings.numel()
    values, screened = [], []
    for task in range(model.n_tasks):
        check(cancel)
        scores = score_images(model, images[:screen], model.one_hot(task), counter, batch_size, cancel)
        screened.append(scores)
        values.append(srocc(scores.cpu().numpy(), ratings[:screen].cpu().numpy()))
        report(progress, "zero-shot", task + 1, model.n_tasks)
    if screen < ratings.numel():
        for task in sorted(range(model.n_tasks), key=values.__getitem__, reverse=True)[:refine]:
            rest = score_images(model, images[screen:], model.one_hot(task), counter, batch_size, cancel)
            scores = torch.cat([screened[task], rest])
            values[task] = srocc(scores.cpu().numpy(), ratings.cpu().numpy())
    return values


def planned_passes(k: int, n_tasks: int, config: PersonalizeConfig) -> int:
    """Passes through the network a run on ``k`` rated photos is expected to take (for time estimates)."""
    return get_solver(config.solver).planned_passes(k, n_tasks, config)


def zero_shot_subset(ratings: torch.Tensor, limit: int | None, seed: int) -> torch.Tensor:
    """Indices of the rated photos the zero-shot SROCC is measured on: all, or a seeded sample of ``limit``.

    Always in a seeded random order, because screening scores every task on the first few only (the
    rated photos themselves may come sorted by name or by stars). The init only needs a rough ranking
    of the tasks, and the solver corrects it; at K = 100 a sample of 48 saves over half the zero-shot
    passes. A sample with a single distinct rating would say nothing, so then every photo is used.
    """
    k = ratings.numel()
    order = torch.randperm(k, generator=torch.Generator().manual_seed(seed)).to(ratings.device)
    if limit is None or limit >= k or torch.unique(ratings[order[:limit]]).numel() < 2:
        return order
    return order[:limit]


def personalize(
    model: MergedScorer,
    images: torch.Tensor,
    ratings: Sequence[float],
    config: PersonalizeConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    task_scores: torch.Tensor | None = None,
) -> PersonalizationResult:
    """Fit ``model.alpha`` to ``ratings`` of the preprocessed ``images`` and return the result.

    ``images`` is a [K, 3, H, W] tensor made by the scorer's :class:`Preprocessor`. The model's
    coefficients are set to the learned values on success and left unchanged on cancellation.
    ``task_scores`` [K, tasks], when given, are each task model's scores of the rated photos, computed
    beforehand (in the background, as the photos were rated): the adaptive init then uses every rated
    photo and costs no pass here.
    """
    config = config or PersonalizeConfig()
    solver = get_solver(config.solver)
    y = validate_ratings(ratings)
    if images.shape[0] != y.numel():
        raise RatingsError(f"{images.shape[0]} images but {y.numel()} ratings")
    started = time.perf_counter()
    images = images.to(model.device)
    y = y.to(model.device)
    counter = PassCounter()
    score_batch = config.score_batch(model.device)
    if task_scores is not None:
        if tuple(task_scores.shape) != (y.numel(), model.n_tasks):
            raise RatingsError(f"task scores of shape {tuple(task_scores.shape)} do not fit {y.numel()} photos")
        ranks = y.cpu().numpy()
        zero_shot = [srocc(task_scores[:, t].cpu().numpy(), ranks) for t in range(model.n_tasks)]
    else:
        subset = zero_shot_subset(y, solver.zero_shot_limit(config), config.seed)
        zero_shot = zero_shot_srocc(
            model,
            images[subset],
            y[subset],
            counter,
            score_batch,
            progress,
            cancel,
            screen=solver.zero_shot_screen_size(config),
            refine=config.zero_shot_refine,
        )
    init = adaptive_init(zero_shot, model.n_layers, config.temperature).to(model.device)
    log.debug("zero-shot SROCC per task: %s", dict(zip(model.task_names, zero_shot)))
    output = solver.solve(SolverRun(model, images, y, init, config, counter, progress, cancel))
    if output.final_loss is not None and not math.isfinite(output.final_loss):
        raise RatingsError("personalization diverged (non-finite loss); try a lower learning rate")
    with torch.no_grad():
        model.alpha.copy_(output.alpha)
    final_scores = output.final_scores
    if final_scores is None:
        final_scores = score_images(model, images, None, counter, score_batch, cancel)
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
