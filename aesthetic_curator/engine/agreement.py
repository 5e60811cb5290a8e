"""How well a profile knows its user: cross-validated agreement with the user's own judgements.

Shown after each personalization as "predicts 78 % of your choices, ± 5 %". It is measured without any
extra pass through the network, on the linearised scores every solver can provide (:mod:`solvers.linear_problem`):
the judged photos are split into folds; for each fold the coefficients are fitted (at the solver's
chosen prior strength) on the pairs of the other photos only, and then asked to order the pairs that
involve a held-out photo. The value is the share of those held-out pairs put the right way round,
pooled over folds. When every task's scores of every judged photo are known (the app scores rated photos
ahead; the evaluation harness always), each fold is also pulled towards its **own** adaptive init, the
softmax of the tasks' agreement with that fold's training photos only: the init of the whole fit was chosen
with the held-out photos' answers, and centring a fold on it lets those answers leak into its estimate.
Pairs share photos, so the photos, not the pairs, are the independent draws: the ± is
the binomial standard error over the judged photos, sqrt(p (1 - p) / photos). (The standard error of the
per-fold shares was tried first and was far too small: within its ± in 0-50 % of runs.) Its calibration
against the agreement on unseen photos is measured in docs/comparisons.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from aesthetic_curator.engine.rank_loss import held_out_pair_splits
from aesthetic_curator.engine.solvers.linear_problem import LinearProblem

#: The adaptive init [tasks, layers] from the judgements among the given photo indices only.
FoldInit = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Agreement:
    """Share of held-out judged pairs the profile orders right, its standard error, and how many pairs."""

    value: float
    error: float
    pairs: int

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: object) -> Agreement | None:
        """The agreement stored with a profile, or None when there is none (or it is damaged)."""
        try:
            return cls(float(data["value"]), float(data["error"]), int(data["pairs"]))  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None


def cross_validated_agreement(
    problem: LinearProblem,
    n_photos: int,
    folds: int,
    seed: int,
    ridge: float,
    fold_init: FoldInit | None = None,
    init: torch.Tensor | None = None,
) -> Agreement | None:
    """Held-out pair agreement of the linear model's fits (None when too few photos to hold any out).

    The linear model is linearised at ``init``; with ``fold_init`` each fold's ridge pulls towards the
    init of its own training photos instead (``init`` is then required).
    """
    splits = held_out_pair_splits(problem.hi, problem.lo, n_photos, folds, seed)
    if not splits:
        return None
    zero = torch.zeros(problem.jacobian.shape[1], dtype=torch.float64)
    right, total = 0.0, 0
    for train, valid in splits:
        offset = zero
        if fold_init is not None and init is not None:
            photos = torch.unique(torch.cat([problem.hi[train], problem.lo[train]]))
            offset = (init.detach().cpu().double() - fold_init(photos).cpu().double()).reshape(-1)
        d = problem.fit(offset, ridge, 0.0, rows=train)
        with torch.no_grad():
            margins = problem.margins(d, valid)
        right += float((margins > 0).sum() + 0.5 * (margins == 0).sum())
        total += valid.numel()
    value = right / total
    return Agreement(value, math.sqrt(value * (1 - value) / n_photos), total)
