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


def bradley_terry_loss(scores: torch.Tensor, ratings: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Mean Bradley–Terry loss over all strictly ordered pairs, and the number of such pairs.

    With no ordered pair the loss is a zero that still depends on ``scores`` (gradient zero).
    """
    mask = preference_pairs(ratings)
    n_pairs = int(mask.sum())
    if n_pairs == 0:
        return scores.sum() * 0.0, 0
    margins = scores[:, None] - scores[None, :]
    return F.softplus(-margins[mask]).mean(), n_pairs
