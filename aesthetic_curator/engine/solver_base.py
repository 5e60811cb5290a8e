"""What every personalization solver shares: its settings, its pass counter and its output.

Kept apart from :mod:`personalize` so that solvers (the paper's recipe, the Gauss–Newton solver)
live in modules of their own without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.progress import CancelToken, ProgressCallback, check

#: The solver used when none is named: 1/30 or less of the paper recipe's passes, close to its accuracy.
DEFAULT_SOLVER = "fast"


@dataclass
class PersonalizeConfig:
    """Settings of one personalization run.

    The paper-recipe fields default to the authors' published script; the Gauss–Newton fields to
    what the evaluation harness measured as matching it (docs/evaluation.md).
    """

    solver: str = DEFAULT_SOLVER  # name in personalize.SOLVERS
    # Shared by every solver.
    temperature: float = 0.1  # softmax temperature of the adaptive init (authors' script: 0.1)
    seed: int = 0  # same seed, same profile
    score_batch_size: int | None = None  # photos per forward pass when only scoring; None: by device
    zero_shot_photos: int | None = None  # rated photos used for the zero-shot SROCC; None: the solver's default
    zero_shot_screen: int | None = None  # every task on this many of them, the best few on all; None: by solver
    zero_shot_refine: int = 2  # tasks scored on the whole zero-shot sample after screening
    # The paper's recipe ("paper").
    steps: int = 500  # optimiser steps
    batch_size: int = 32  # photos per step (all of them when fewer are rated)
    lr: float = 1e-2  # AdamW start learning rate, cosine-annealed ...
    lr_min: float = 1e-3  # ... down to this
    weight_decay: float = 0.0
    flip: bool = True  # random horizontal flip of training photos (training only)
    # The damped Gauss–Newton solver ("fast").
    evaluations: int = 2  # true evaluations of candidate coefficients (docs/evaluation.md measures the choice)
    jacobian_every: int = 1  # fresh Jacobian at every n-th evaluation (0: Broyden updates only); the last never
    jacobian_chunk: int | None = None  # photos per batched per-photo gradient; None: by device
    damping: float = 10.0  # initial Levenberg–Marquardt damping, in units of the loss's mean curvature
    task_prior_share: float = 1.0  # cost of moving a task's whole column relative to single layers (prior)
    cv_folds: int = 5  # folds of the rated photos used to choose the prior strength
    prior_scaling: float = 0.0  # weight each coefficient's prior and damping by mean(J^2)^this (1: Marquardt)
    head_refit: bool = True  # refit the head's coefficients exactly at the end (engine/head_refit.py)

    def batch_sizes(self, device: torch.device) -> tuple[int, int]:
        """(photos per scoring forward, photos per Jacobian chunk) on ``device``.

        Cancellation is checked between batches, so on a CPU they are small enough (about a second of
        ViT-B-16 work each) for Cancel to act within a second; a GPU gets batches that fill it (a
        Jacobian chunk that does not fit is halved until it does).
        """
        cpu = device.type == "cpu"
        return self.score_batch_size or (4 if cpu else 64), self.jacobian_chunk or (1 if cpu else 32)

    def zero_shot_passes(self, k: int, n_tasks: int) -> int:
        """Forwards the zero-shot SROCC of the adaptive init takes: every task on the (sampled) rated photos."""
        photos = min(k, self.zero_shot_limit() or k)
        screen = self.zero_shot_screen_size()
        if screen is None or screen >= photos:
            return n_tasks * photos
        refined = min(self.zero_shot_refine, n_tasks)
        return n_tasks * screen + refined * (photos - screen)

    def zero_shot_screen_size(self) -> int | None:
        """Photos every task is scored on before only the best few go on (None: all tasks on the whole sample).

        The fast solver screens on 16: the softmax init gives tasks outside the best two almost no weight,
        so only those need the whole sample; measured, it keeps the init and saves 128 passes at K = 100
        (docs/evaluation.md).
        """
        if self.zero_shot_screen is not None:
            return self.zero_shot_screen or None
        return 16 if self.solver == "fast" else None

    def zero_shot_limit(self) -> int | None:
        """How many rated photos the zero-shot SROCC uses (None: all of them)."""
        if self.zero_shot_photos is not None:
            return self.zero_shot_photos or None
        return 48 if self.solver == "fast" else None


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
    #: Scores of the rated photos under ``alpha`` when the solver already computed them (saves a pass).
    final_scores: torch.Tensor | None = None


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


@torch.no_grad()
def score_images(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor | None,
    counter: PassCounter | None = None,
    batch_size: int = 64,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Scores of ``images`` under coefficients ``alpha`` (merged once, then batched forwards).

    ``images`` may live on another device than the model (a dataset kept on the host): each batch
    is moved over as it is scored.
    """
    return score_and_embed_images(model, images, alpha, counter, batch_size, cancel)[0]


@torch.no_grad()
def score_and_embed_images(
    model: MergedScorer,
    images: torch.Tensor,
    alpha: torch.Tensor | None,
    counter: PassCounter | None = None,
    batch_size: int = 64,
    cancel: CancelToken | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`score_images`, plus the backbone embeddings [N, dim] on the model's device."""
    merged = model.merged_parameters(alpha)
    scores, embeddings = [], []
    for start in range(0, images.shape[0], batch_size):
        check(cancel)
        chunk = images[start : start + batch_size].to(model.device, non_blocking=True)
        embedded, scored = model.embed_and_score(merged, chunk)
        scores.append(scored.float())
        embeddings.append(embedded)
        if counter is not None:
            counter.forward += chunk.shape[0]
    return torch.cat(scores), torch.cat(embeddings)
