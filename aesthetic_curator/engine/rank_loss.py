"""The Bradley–Terry pairwise rank loss used to fit the coefficients.

For every ordered pair (a, b) in a batch whose ratings satisfy y_a > y_b the model is asked to
predict that a beats b: loss = -log(exp(s_a) / (exp(s_a) + exp(s_b))) = softplus(s_b - s_a),
averaged over those pairs. **Ties** (y_a == y_b) carry no preference, so they are left out rather
than pushed towards equal scores; a batch made only of ties has no pairs and gives no update.
"""

from __future__ import annotations

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


def bradley_terry_loss(scores: torch.Tensor, ratings: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean Bradley–Terry loss over all strictly ordered pairs, and the number of such pairs.

    With no ordered pair the loss is a zero that still depends on ``scores`` (gradient zero).
    """
    mask = preference_pairs(ratings)
    n_pairs = int(mask.sum())
    if n_pairs == 0:
        return scores.sum() * 0.0, 0
    return masked_pair_loss(scores, mask), n_pairs
