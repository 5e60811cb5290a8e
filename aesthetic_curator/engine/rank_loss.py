"""The Bradley–Terry pairwise rank loss used to fit the coefficients.

For every ordered pair (a, b) in a batch whose ratings satisfy y_a > y_b the model is asked to
predict that a beats b: loss = -log(exp(s_a) / (exp(s_a) + exp(s_b))) = softplus(s_b - s_a),
averaged over those pairs. **Ties** (y_a == y_b) carry no preference, so they are left out rather
than pushed towards equal scores; a batch made only of ties has no pairs and gives no update.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
import torch.nn.functional as F


def preference_pairs(ratings: torch.Tensor) -> torch.Tensor:
    """Boolean [B, B] matrix, True where image a (row) is rated strictly above image b (column)."""
    return ratings[:, None] > ratings[None, :]


def masked_pair_loss(scores: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Mean Bradley–Terry loss over the pairs marked in ``pairs`` (from :func:`preference_pairs`).

    Computed densely over all B x B pairs, so it never reads a count back from the device; the
    caller makes sure at least one pair is marked.
    """
    margins = scores[:, None] - scores[None, :]
    weights = pairs.to(scores.dtype)
    return (F.softplus(-margins) * weights).sum() / weights.sum().clamp_min(1.0)


def margin_pair_loss(
    scores: torch.Tensor, targets: torch.Tensor, pairs: torch.Tensor, margin_per_unit: float
) -> torch.Tensor:
    """Mean hinge loss over the marked pairs: a pair costs nothing once a's score exceeds b's by
    ``margin_per_unit`` times their target difference. Unlike Bradley–Terry it does not keep pushing
    scores apart, so it cannot drive a bounded score into saturation."""
    margins = scores[:, None] - scores[None, :]
    wanted = margin_per_unit * (targets[:, None] - targets[None, :])
    weights = pairs.to(scores.dtype)
    return (F.relu(wanted - margins) * weights).sum() / weights.sum().clamp_min(1.0)


def indexed_pair_loss(scores: torch.Tensor, hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """Mean Bradley–Terry loss over the ordered pairs (hi[i] rated above lo[i]), in float64.

    The sparse twin of :func:`masked_pair_loss`, for solvers that keep their pairs as index lists;
    float64 so that comparing two nearly equal losses (a step's acceptance test) is not rounding noise.
    """
    return F.softplus(-(scores[hi] - scores[lo]).double()).mean()


def bradley_terry_loss(scores: torch.Tensor, ratings: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean Bradley–Terry loss over all strictly ordered pairs, and the number of such pairs.

    With no ordered pair the loss is a zero that still depends on ``scores`` (gradient zero).
    """
    mask = preference_pairs(ratings)
    n_pairs = int(mask.sum())
    if n_pairs == 0:
        return scores.sum() * 0.0, 0
    return masked_pair_loss(scores, mask), n_pairs


Candidate = TypeVar("Candidate")


def cross_validated_choice(
    candidates: Sequence[Candidate],
    splits: list[tuple[torch.Tensor, torch.Tensor]],
    held_out_loss: Callable[[Candidate, torch.Tensor, torch.Tensor], float],
) -> Candidate:
    """The candidate with the lowest mean ``held_out_loss(candidate, train, valid)`` over ``splits``.

    A later candidate has to beat an earlier one by more than 1e-6, so ties go to the earlier:
    callers list the safest (most regularised) first, which is also the choice when there are no splits.
    """
    best, best_loss = candidates[0], math.inf
    if not splits:  # too few photos to hold any out: the safest candidate
        return best
    for candidate in candidates:
        value = sum(held_out_loss(candidate, train, valid) for train, valid in splits) / len(splits)
        if value < best_loss - 1e-6:
            best, best_loss = candidate, value
    return best


def pair_photos(hi: torch.Tensor, lo: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """The sorted distinct photos of the pairs ``rows`` (better ``hi``, worse ``lo``)."""
    return torch.unique(torch.cat([hi[rows], lo[rows]]))


def held_out_pair_splits(
    hi: torch.Tensor, lo: torch.Tensor, n_photos: int, folds: int, seed: int, unseen_only: bool = False
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Cross-validation over photos, as (training pair rows, held-out pair rows) per fold.

    The photos (not the pairs) are split into ``folds`` seeded folds: a fold's held-out pairs are the
    ones involving one of its photos, and it trains on pairs of other photos only, so no held-out
    photo is ever seen in training. Folds without training or held-out pairs are left out.
    With ``unseen_only`` a held-out pair also needs its other photo to be in no training pair: what a new
    album asks, where neither photo was judged. (Against a starred training photo, a prediction is
    compared with a score fitted to that photo's own answers; a comparison's other photo is usually in
    no other pair, so comparisons keep most of their held-out pairs.)
    """
    folds = max(2, min(folds, n_photos))
    fold_of = torch.randperm(n_photos, generator=torch.Generator().manual_seed(seed)) % folds
    splits = []
    for fold in range(folds):
        held_hi, held_lo = fold_of[hi] == fold, fold_of[lo] == fold
        train = (~held_hi & ~held_lo).nonzero(as_tuple=True)[0]
        held = held_hi | held_lo
        if unseen_only:
            trained = torch.zeros(n_photos, dtype=torch.bool, device=hi.device)
            trained[pair_photos(hi, lo, train)] = True
            held &= ~trained[hi] & ~trained[lo]
        valid = held.nonzero(as_tuple=True)[0]
        if train.numel() and valid.numel():
            splits.append((train, valid))
    return splits
