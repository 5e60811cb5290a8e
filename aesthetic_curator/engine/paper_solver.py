"""The paper's recipe: AdamW on the Bradley–Terry loss over mini-batches of the rated photos.

It is the reference every other solver is measured against (``--solver paper``): 500 steps of a
forward and a backward through the whole ViT per photo in the batch.
"""

from __future__ import annotations

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.rank_loss import bradley_terry_loss
from aesthetic_curator.engine.solver_base import PassCounter, PersonalizeConfig, SolverOutput
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report


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
