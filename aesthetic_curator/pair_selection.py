"""Which two photos to ask about next: the "A or B?" questions whose answers teach the most.

The rule (docs/comparisons.md explains and measures it). Over a seeded pool of album photos, every
pair not yet asked gets an *information* value:

- **With a profile**, how unsure the profile is: the Bradley–Terry probability that A beats B is
  ``p = sigmoid(s_A - s_B)`` on the profile's own scores, and the answer's expected information about
  the coefficients is proportional to ``p (1 - p)`` (its Fisher information; largest at a coin flip).
- **Before any profile**, how much the task models disagree: each task's scores are standardised over
  the pool, and a pair's value is the smaller of the total margin of the tasks preferring A and of
  those preferring B, averaged over tasks. It is large only when strong tasks point opposite ways,
  which is where the user's answer decides how the tasks are weighted.

Then the pairs are picked greedily, most informative first, **spread over the album**: a pair of two
near-identical frames (closest 10 % of the pool's appearance distances) is never asked, a photo appears
in at most one question of a batch, and a pair's value is scaled down by how close its photos look to
photos already picked, so a burst of five frames does not fill the batch.

Nothing here touches a model: the scores come in as arrays (see ``curation.comparisons_to_ask``).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

#: Pairs whose photos are closer in appearance than this quantile of the pool's distances are never asked.
NEAR_DUPLICATE_QUANTILE = 0.10


def task_disagreement(task_scores: np.ndarray) -> np.ndarray:
    """[N, N] value of each pair before a profile exists: how strongly the tasks point opposite ways.

    ``task_scores`` is [N, tasks]. With margins m_t = z_t(a) - z_t(b) of the standardised scores,
    the value is min(sum of positive m_t, sum of negative m_t) / tasks.
    """
    spread = task_scores.std(axis=0)
    z = (task_scores - task_scores.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    margins = z[:, None, :] - z[None, :, :]  # [N, N, tasks]
    for_a = np.clip(margins, 0, None).sum(-1)
    for_b = np.clip(-margins, 0, None).sum(-1)
    return np.minimum(for_a, for_b) / max(1, task_scores.shape[1])


def profile_uncertainty(scores: np.ndarray) -> np.ndarray:
    """[N, N] value of each pair under a profile: p (1 - p) with p = sigmoid(s_a - s_b)."""
    p = 1.0 / (1.0 + np.exp(-(scores[:, None] - scores[None, :])))
    return p * (1.0 - p)


def choose_pairs(
    information: np.ndarray,
    appearance: np.ndarray,
    count: int,
    asked: Collection[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """Up to ``count`` pairs (i, j) of pool indices, by ``information`` [N, N], spread by ``appearance`` [N, F].

    ``asked`` holds pairs already answered (either order); they are not asked again.
    """
    n = information.shape[0]
    if n < 2 or count <= 0:
        return []
    distance = np.sqrt(((appearance[:, None, :] - appearance[None, :, :]) ** 2).sum(-1))
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    cutoff = np.quantile(distance[upper], NEAR_DUPLICATE_QUANTILE) if n > 2 else -1.0
    scale = float(np.median(distance[upper])) or 1.0
    value = np.where(upper & (distance > cutoff), information, -np.inf)
    for i, j in asked:
        if 0 <= i < n and 0 <= j < n:
            value[min(i, j), max(i, j)] = -np.inf
    nearest = np.full(n, np.inf)  # appearance distance of each photo to the closest picked photo
    chosen: list[tuple[int, int]] = []
    while len(chosen) < count:
        spread = np.minimum(1.0, np.minimum(nearest[:, None], nearest[None, :]) / scale)
        finite = np.isfinite(value)
        weighted = np.full_like(value, -np.inf)
        weighted[finite] = value[finite] * spread[finite]
        best = int(np.argmax(weighted))
        i, j = divmod(best, n)
        if not np.isfinite(weighted[i, j]):
            break
        chosen.append((i, j))
        for photo in (i, j):  # one question per photo in a batch
            value[photo, :] = -np.inf
            value[:, photo] = -np.inf
            nearest = np.minimum(nearest, distance[photo])
    return chosen


def spread_out(
    features: np.ndarray, count: int, first: int | None = None, anchors: np.ndarray | None = None
) -> list[int]:
    """Up to ``count`` rows of ``features`` in farthest-point order (what Suggest offers to rate).

    Each next photo is the one farthest from every photo picked so far and from the ``anchors`` (the
    photos already rated); without anchors the order starts at ``first``.
    """
    n = features.shape[0]
    if n == 0 or count <= 0:
        return []
    chosen: list[int] = []
    if anchors is not None and len(anchors):
        nearest = np.min(((features[:, None, :] - anchors[None]) ** 2).sum(-1), axis=1)
    else:
        start = first if first is not None else 0
        chosen.append(start)
        nearest = ((features - features[start]) ** 2).sum(-1)
        nearest[start] = -1.0
    while len(chosen) < min(count, n):
        pick = int(np.argmax(nearest))
        if nearest[pick] < 0:
            break
        chosen.append(pick)
        nearest = np.minimum(nearest, ((features - features[pick]) ** 2).sum(-1))
        nearest[chosen] = -1.0
    return chosen
