"""How well a profile knows its user: cross-validated agreement with the user's own judgements.

Shown after each personalization as "predicts 78 % of your choices, ± 5 %". It is measured without any extra
pass through the network, on the linearised scores every solver can provide (:mod:`solvers.linear_problem`): the
judged photos are split into folds; for each fold the coefficients are fitted (at the solver's chosen prior
strength) on the pairs of the other photos only, and then asked to order the pairs of two held-out photos. The
value is the share of those held-out pairs put the right way round, pooled over folds and over a few seeded
splits (one split of 10 photos into 5 folds holds out at most 5 pairs). Only pairs of two unseen photos count
because that is what ranking an album asks: a pair of a held-out photo against a training one compares a
prediction with a score fitted to that photo's own answers, and counting those made the estimate optimistic
(docs/comparisons.md). When every task's scores of every judged photo are known (the app scores rated photos
ahead; the evaluation harness always), each fold is also pulled towards its **own** adaptive init, the softmax
of the tasks' agreement with that fold's training photos only: the init of the whole fit was chosen with the
held-out photos' answers, and centring a fold on it lets those answers leak into its estimate. Pairs share
photos, so the answers, not the pairs, are the independent draws: the ± is the binomial standard error over the
user's answers (starred photos plus decided comparisons), sqrt(p (1 - p) / answers); with stars alone that is
the judged photos. (The standard error of the per-fold shares was tried first and was far too small: within
its ± in 0-50 % of runs; the photos of comparisons, two per answer, made it too small for comparisons.)
Its calibration against the agreement on unseen photos is measured in docs/comparisons.md.

A profile whose top is fine-tuned after the coefficients (the built-in model) reports the tuning's own
cross-validated agreement instead (:func:`top_tuning.tune_top`, with :func:`agreement_folds` and
:func:`pooled_agreement` from here): the linear model describes the coefficients, not the model it keeps.
Below :data:`top_tuning.FOLD_REFIT_PHOTOS` judged photos each of those folds also starts from coefficients
refitted without its held-out answers (:func:`fold_coefficients`), where the shared ones made the estimate
0.08-0.21 too high on PARA (docs/comparisons.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from aesthetic_curator.engine.rank_loss import held_out_pair_splits, pair_photos
from aesthetic_curator.engine.solvers.linear_problem import LinearProblem

#: The adaptive init [tasks, layers] from the judgements among the given photo indices only.
FoldInit = Callable[[torch.Tensor], torch.Tensor]

#: Seeded fold splits pooled into one estimate: each fit is a few K x K solves, so more splits cost little
#: and steady the estimate when few pairs have both photos in one fold.
SPLITS = 8


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


#: One fold: (training pair rows, held-out pair rows).
Fold = tuple[torch.Tensor, torch.Tensor]


def agreement_folds(
    hi: torch.Tensor, lo: torch.Tensor, n_photos: int, folds: int, seed: int, splits: int
) -> list[Fold]:
    """The folds of ``splits`` seeded splits of the photos, each holding out only pairs of unseen photos."""
    return [
        fold
        for split in range(splits)
        for fold in held_out_pair_splits(hi, lo, n_photos, folds, seed + split, unseen_only=True)
    ]


def pooled_agreement(
    folds: list[Fold],
    held_out_margins: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    answers: int,
    n_pairs: int,
) -> Agreement | None:
    """The share of held-out pairs whose margin (from a fit on that fold's training pairs) is positive, a
    tie counting half, pooled over ``folds``, with its binomial ± over the user's ``answers`` (starred
    photos plus decided comparisons: two photos of one comparison are one answer, and with 20 comparisons
    a ± over their 40 photos was too narrow, docs/comparisons.md); None when no fold holds a pair out."""
    right, total = 0.0, 0
    held_out = torch.zeros(n_pairs, dtype=torch.bool)
    for train, valid in folds:
        margins = held_out_margins(train, valid)
        right += float((margins > 0).sum() + 0.5 * (margins == 0).sum())
        total += valid.numel()
        held_out[valid.cpu()] = True
    if total == 0:
        return None
    value = right / total
    return Agreement(value, binomial_error(value, answers), int(held_out.sum()))


def binomial_error(share: float, n: int) -> float:
    """Standard error of a share measured over ``n`` independent judgements."""
    return math.sqrt(share * (1 - share) / max(n, 1))


def cross_validated_agreement(
    problem: LinearProblem,
    n_photos: int,
    folds: int,
    seed: int,
    ridge: float,
    fold_init: FoldInit | None = None,
    init: torch.Tensor | None = None,
    splits: int = SPLITS,
    answers: int | None = None,
) -> Agreement | None:
    """Held-out pair agreement of the linear model's fits (None when no pair can be held out).

    The linear model is linearised at ``init``; with ``fold_init`` each fold's ridge pulls towards the
    init of its own training photos instead (``init`` is then required). ``pairs`` counts the distinct
    judged pairs that were ever held out. ``answers`` (default: the photos, as for stars alone) is what
    the ± counts (:func:`pooled_agreement`).
    """
    zero = torch.zeros(problem.jacobian.shape[1], dtype=torch.float64)

    def held_out_margins(train: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        offset = zero
        if fold_init is not None and init is not None:
            photos = pair_photos(problem.hi, problem.lo, train)
            offset = (init.detach().cpu().double() - fold_init(photos).cpu().double()).reshape(-1)
        d = problem.fit(offset, ridge, 0.0, rows=train)
        with torch.no_grad():
            return problem.margins(d, valid)

    folds_of_every_split = agreement_folds(problem.hi, problem.lo, n_photos, folds, seed, splits)
    answers = n_photos if answers is None else answers
    return pooled_agreement(folds_of_every_split, held_out_margins, answers, problem.hi.numel())


#: The coefficients refitted on some judged pairs only (their rows), for the tuned agreement's folds.
FoldCoefficients = Callable[[torch.Tensor], torch.Tensor]


def fold_coefficients(
    problem: LinearProblem,
    linearised_at: torch.Tensor,
    prior: torch.Tensor,
    ridge: float,
    final: torch.Tensor,
    fold_init: FoldInit | None = None,
) -> FoldCoefficients:
    """For pair rows, ``final`` moved by what leaving the other pairs out changes in the linear fit.

    Why: the tuned agreement's folds tune the top of a network merged at coefficients the held-out
    answers helped fit, and at 10-20 answers that made the estimate optimistic by 0.08-0.10
    (docs/comparisons.md). Each fold's coefficients are ``final + fit(rows) - fit(all)``, both undamped
    linear fits from the point the solver last linearised at, so a fold keeps the solver's own degree of
    convergence and only loses the held-out answers' pull. With ``fold_init`` the fold's ridge pulls
    towards its own photos' adaptive init, as in :func:`cross_validated_agreement`.
    """
    at = linearised_at.detach().cpu().double().reshape(-1)
    prior = prior.detach().cpu().double().reshape(-1)
    shape, device = final.shape, final.device
    final = final.detach().cpu().double().reshape(-1)
    everything: list[torch.Tensor] = []  # the fit on every pair, made on the first call (most runs make none)

    def refit(rows: torch.Tensor) -> torch.Tensor:
        if not everything:
            everything.append(problem.fit(at - prior, ridge, 0.0))
        fold_prior = prior
        if fold_init is not None:
            photos = pair_photos(problem.hi, problem.lo, rows)
            fold_prior = fold_init(photos).detach().cpu().double().reshape(-1)
        moved = problem.fit(at - fold_prior, ridge, 0.0, rows=rows) - everything[0]
        return (final + moved).reshape(shape).float().to(device)

    return refit
