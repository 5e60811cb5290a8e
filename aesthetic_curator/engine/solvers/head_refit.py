"""The fast solver's last step: an exact refit of the scoring head's coefficients.

The Gauss–Newton steps only minimise a linearised model of the rank loss, a few damped times, so they
stop short of the optimum, and the head is where that model is poorest (its task vectors are as large
as its weights). For the head's layers (tasks x 4 coefficients) nothing has to be linearised: with the
ViT's coefficients fixed, the backbone embeddings of the rated photos are fixed too, and the solver
already has them from its last forward pass. So the head's coefficients are refitted on those
embeddings by L-BFGS on the solver's own objective (rank loss + ridge prior) plus a pull towards the
Gauss–Newton result. Cross-validation over the rated photos decides whether the refit generalises;
with 10 ratings it nearly never does, and the Gauss–Newton result is kept. It costs no pass through
the ViT. Measurements: docs/evaluation.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.rank_loss import cross_validated_choice, held_out_pair_splits, indexed_pair_loss

log = logging.getLogger(__name__)

#: Proximity strengths (per unit of squared coefficient change) tried by cross-validation, strongest first,
#: after "no refit". One value: a grid down to 1e-4 chose weaker pulls that cost the realizable users
#: 0.004 SROCC at K = 100 on average (docs/evaluation.md); cross-validation over the loss is good at telling
#: "refit or not" (10 ratings: nearly always not) and poor at telling how far.
PROXIMITY_GRID = (1e-3,)
#: L-BFGS iterations per fit (the problem has tasks x 4 unknowns).
MAX_ITERATIONS = 50


@dataclass
class HeadRefit:
    """The refitted coefficients [tasks, layers] and the rated photos' scores under them."""

    alpha: torch.Tensor
    scores: torch.Tensor


class _HeadProblem:
    """The solver's objective as a function of the head's coefficients alone, on fixed embeddings."""

    def __init__(
        self,
        model: MergedScorer,
        embeddings: torch.Tensor,
        alpha: torch.Tensor,
        hi: torch.Tensor,
        lo: torch.Tensor,
        penalty: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.model, self.hi, self.lo, self.penalty = model, hi, lo, penalty
        self.embeddings = embeddings.detach().float()
        self.alpha = alpha.detach().cpu().double()
        self.columns = model.head_layers()
        self.start = self.alpha[:, self.columns].clone()

    def scores(self, head_alpha: torch.Tensor) -> torch.Tensor:
        on_device = head_alpha.float().to(self.model.device)
        return self.model.head_scores(self.embeddings, on_device).float().cpu()

    def full(self, head_alpha: torch.Tensor) -> torch.Tensor:
        """All coefficients, with the head's columns replaced (differentiable in ``head_alpha``)."""
        full = self.alpha.clone()
        full[:, self.columns] = head_alpha
        return full

    def objective(self, head_alpha: torch.Tensor, pairs: torch.Tensor | None = None) -> torch.Tensor:
        hi, lo = (self.hi, self.lo) if pairs is None else (self.hi[pairs], self.lo[pairs])
        return indexed_pair_loss(self.scores(head_alpha), hi, lo) + self.penalty(self.full(head_alpha).reshape(-1))

    def fit(self, proximity: float, pairs: torch.Tensor | None = None) -> torch.Tensor:
        """argmin over the head's coefficients of objective + proximity * |change|^2 (L-BFGS from the start)."""
        head = self.start.clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([head], lr=1.0, max_iter=MAX_ITERATIONS, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            value = self.objective(head, pairs) + proximity * (head - self.start).square().sum()
            value.backward()
            return value

        optimizer.step(closure)
        return head.detach()


def choose_proximity(problem: _HeadProblem, k: int, folds: int, seed: int) -> float | None:
    """The proximity whose refit generalises best to pairs involving held-out photos (None: do not refit).

    "Do not refit" is scored with the Gauss–Newton coefficients, which were fitted on the held-out photos
    too, so its held-out loss is optimistic: the choice leans towards keeping them, the safe side.
    """
    splits = held_out_pair_splits(problem.hi, problem.lo, k, folds, seed)

    def held_out_loss(proximity: float | None, train: torch.Tensor, valid: torch.Tensor) -> float:
        head = problem.start if proximity is None else problem.fit(proximity, train)
        with torch.no_grad():
            return float(indexed_pair_loss(problem.scores(head), problem.hi[valid], problem.lo[valid]))

    # Strongest first: ties go to the smaller change.
    return cross_validated_choice([None, *PROXIMITY_GRID], splits, held_out_loss)


def refit_head(
    model: MergedScorer,
    embeddings: torch.Tensor,
    alpha: torch.Tensor,
    hi: torch.Tensor,
    lo: torch.Tensor,
    penalty: Callable[[torch.Tensor], torch.Tensor],
    folds: int,
    seed: int,
) -> HeadRefit | None:
    """Refit the head's coefficients on the rated photos' ``embeddings`` at ``alpha``; None if it would not help.

    ``penalty`` is the solver's prior term on the flattened coefficients (float64, CPU). The result
    never has a higher objective on the rated photos than ``alpha``: a refit that does (L-BFGS
    stopping badly) is dropped.
    """
    if not model.head_layers() or hi.numel() == 0:
        return None
    problem = _HeadProblem(model, embeddings, alpha, hi, lo, penalty)
    proximity = choose_proximity(problem, embeddings.shape[0], folds, seed)
    if proximity is None:
        log.debug("head refit: cross-validation keeps the Gauss-Newton coefficients")
        return None
    head = problem.fit(proximity)
    with torch.no_grad():
        before, after = float(problem.objective(problem.start)), float(problem.objective(head))
    if not after <= before:
        log.debug("head refit dropped: objective %.4f -> %.4f", before, after)
        return None
    log.debug("head refit (proximity %.0e): objective %.4f -> %.4f", proximity, before, after)
    with torch.no_grad():
        full = problem.full(head)
        return HeadRefit(full.float(), problem.scores(head))
