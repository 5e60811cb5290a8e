"""The paper's recipe: AdamW on the Bradley–Terry loss over mini-batches of the rated photos.

It is the reference every other solver is measured against (``--solver paper``): 500 steps of a
forward and a backward through the whole ViT per photo in the batch.

The whole schedule (which photos each step sees, which are flipped, which steps have an ordered
pair to learn from) is drawn on the CPU before the first step, so on a GPU the loop never waits for
the host: the loss is read back for the progress bar only every :data:`LOSS_EVERY` steps there (on a
CPU, where reading it costs nothing, at every step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from aesthetic_curator.engine.devices import mixed_precision
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.rank_loss import masked_pair_loss
from aesthetic_curator.engine.solvers.base import PersonalizeConfig, Solver, SolverOutput, SolverRun
from aesthetic_curator.progress import check, report

#: Steps between reads of the loss (a host/device sync on a GPU).
LOSS_EVERY = 25


@dataclass
class PaperOptions:
    """The authors' published script."""

    steps: int = 500  # optimiser steps
    batch_size: int = 32  # photos per step (all of them when fewer are rated)
    lr: float = 1e-2  # AdamW start learning rate, cosine-annealed ...
    lr_min: float = 1e-3  # ... down to this
    weight_decay: float = 0.0
    flip: bool = True  # random horizontal flip of training photos (training only)


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


@dataclass
class _Step:
    photos: torch.Tensor  # indices into the rated photos, on the model's device
    flips: torch.Tensor | None  # bool per photo, on the model's device
    pairs: torch.Tensor  # bool [B, B] preference matrix of the batch, on the model's device
    learns: bool  # whether the batch holds an ordered pair (a batch of ties gives no update)


def _schedule(judgements: Judgements, options: PaperOptions, seed: int, device: torch.device) -> list[_Step]:
    """Every step's batch, drawn up front from the seed (the same draws as a step-by-step loop).

    A batch learns from every judged pair inside it: star pairs and the user's choices alike.
    """
    generator = torch.Generator().manual_seed(seed)
    steps = []
    for idx in _batches(judgements.n_photos, options.batch_size, options.steps, generator):
        flips = (torch.rand(len(idx), generator=generator) < 0.5) if options.flip else None
        pairs = judgements.matrix(idx)
        steps.append(
            _Step(
                idx.to(device, non_blocking=True),
                None if flips is None else flips.to(device, non_blocking=True),
                pairs.to(device, non_blocking=True),
                bool(pairs.any()),
            )
        )
    return steps


class PaperSolver(Solver):
    """AdamW on the Bradley–Terry loss, cosine lr from ``lr`` to ``lr_min``, random flips.

    On CUDA the forward and backward run under bf16 (or fp16) autocast; the coefficients, the
    merge and the optimiser stay in float32.
    """

    name = "paper"
    Options: ClassVar[type] = PaperOptions

    def solver_passes(self, k: int, config: PersonalizeConfig) -> int:
        options = self.options(config)
        # The steps, the final scoring, and a Jacobian for the cross-validated agreement (engine.agreement).
        return 2 * options.steps * min(k, options.batch_size) + k + 2 * k

    def solve(self, run: SolverRun) -> SolverOutput:
        model, images, init, config = run.model, run.images, run.init, run.config
        counter, progress, cancel = run.counter, run.progress, run.cancel
        options = self.options(config)
        alpha = torch.nn.Parameter(init.clone().to(model.device))
        optimizer = torch.optim.AdamW([alpha], lr=options.lr, weight_decay=options.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, options.steps), eta_min=options.lr_min
        )
        amp = mixed_precision(model.device)
        loss_value: float | None = None
        last_loss: torch.Tensor | None = None
        schedule = _schedule(run.judgements, options, config.seed, images.device)
        loss_every = 1 if model.device.type == "cpu" else LOSS_EVERY
        for step, planned in enumerate(schedule, start=1):
            check(cancel)
            batch = images[planned.photos]
            if planned.flips is not None:
                batch = torch.where(planned.flips[:, None, None, None], batch.flip(-1), batch)
            optimizer.zero_grad(set_to_none=True)
            with amp:
                scores = model(batch, alpha)
            counter.forward += len(planned.photos)
            if planned.learns:
                last_loss = masked_pair_loss(scores.float(), planned.pairs)
                last_loss.backward()
                counter.backward += len(planned.photos)
                optimizer.step()
            scheduler.step()
            if last_loss is not None and (step % loss_every == 0 or step == len(schedule)):
                loss_value = float(last_loss.detach())
            report(progress, "training", step, options.steps, loss_value)
        return SolverOutput(alpha.detach(), len(schedule), loss_value)


SOLVER = PaperSolver()
