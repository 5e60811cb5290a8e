"""Which two photos to ask about next: the "A or B?" questions whose answers teach the most.

The rule (docs/comparisons.md explains and measures it). Over a seeded pool of album photos, every
pair not yet asked gets its **expected information about the user's taste**. The taste stands in as a
linear Bradley–Terry model over the task models' standardised scores of a photo (the directions the
profile's coefficients weigh); the answers so far (every pair of different stars and every decided
comparison) give it a precision I + sum of p (1 - p) d d^T, d a judged pair's difference in task
scores. A new pair (a, b) would add p (1 - p) d d^T, so its value is the gain in log-determinant,
log(1 + p (1 - p) d^T C d), C the inverse precision (D-optimal design). p = sigmoid(s_a - s_b) on the
profile's stored scores, 1/2 before any profile.

It is large where the profile cannot yet tell the two photos apart **and** they differ in a way the
answers have not settled. The rules it replaced (2026-12-05) looked at one side each: p (1 - p) alone
picked near-ties, often of photos alike in every task, whose answers a person gives at random; before a
profile, the pairs where the tasks disagreed most were extreme cases that misled the first fit. Both
lost to pairs drawn at random at 10-20 answers (docs/comparisons.md). Without a model (no task scores)
the profile's p (1 - p) is still used, and without a profile either, only the spread below.

Then the pairs are picked greedily, most informative first, **spread over the album**: a pair of two
near-identical frames (closest 10 % of the pool's appearance distances) is never asked, a photo appears
in at most one question of a batch, and a pair's value is scaled down by how close its photos look to
photos already picked, so a burst of five frames does not fill the batch.

Nothing here touches a model: the scores come in as arrays (see :mod:`comparison_questions`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

#: Pairs whose photos are closer in appearance than this quantile of the pool's distances are never asked.
NEAR_DUPLICATE_QUANTILE = 0.10


def standardized(task_scores: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """[N, tasks] each task's scores in standard units over ``reference`` (default: ``task_scores``), so
    every task counts alike whatever the range of its head."""
    reference = task_scores if reference is None else reference
    spread = reference.std(axis=0)
    return (task_scores - reference.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def _win_probability(scores: np.ndarray | None, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bradley–Terry probability that ``a`` beats ``b`` (indices into ``scores``); 1/2 without scores."""
    if scores is None:
        return np.full(np.broadcast(a, b).shape, 0.5)
    return 1.0 / (1.0 + np.exp(-(scores[a] - scores[b])))


def answered_precision(
    features: np.ndarray, better: np.ndarray, worse: np.ndarray, scores: np.ndarray | None = None
) -> np.ndarray:
    """[F, F] how well the answers so far pin down a linear taste over ``features`` [N, F]: the precision
    (Laplace) of its weights under a unit prior, I + sum of p (1 - p) d d^T over the judged pairs
    (``better`` [M] over ``worse`` [M], d their feature difference, p from the profile's ``scores`` [N])."""
    difference = features[better] - features[worse]
    p = _win_probability(scores, better, worse)
    return np.eye(features.shape[1]) + (difference * (p * (1 - p))[:, None]).T @ difference


def expected_information(features: np.ndarray, precision: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """[N, N] what answering each pair would teach about the taste: log(1 + p (1 - p) d^T C d), the gain
    in log-determinant of the precision (D-optimal design), C its inverse, d the pair's feature difference.

    Large where the profile cannot yet tell the two apart (p near 1/2) **and** the photos differ in a
    direction of taste the answers have not settled: a near-tie of two similar photos teaches nothing.
    """
    covariance = np.linalg.inv(precision)
    difference = features[:, None, :] - features[None, :, :]
    spread = np.einsum("ijf,fg,ijg->ij", difference, covariance, difference)
    index = np.arange(features.shape[0])
    p = _win_probability(scores, index[:, None], index[None, :])
    return np.log1p(p * (1 - p) * spread)


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
