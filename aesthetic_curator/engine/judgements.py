"""A user's judgements as the rank loss sees them: ordered pairs of photos, from stars and from comparisons.

The Bradley–Terry loss only ever learns "a is better than b". Star ratings give every strictly ordered
pair of rated photos (ties say nothing); an answered "A or B?" comparison gives its one pair directly.
:class:`Judgements` holds both over one list of photos, so every solver trains on their union: the
fast solver as index lists, the paper recipe as each batch's [B, B] preference matrix.

A photo may have stars, comparisons or both; a photo with only comparisons has no rating (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aesthetic_curator.engine.metrics import srocc
from aesthetic_curator.engine.rank_loss import preference_pairs
from aesthetic_curator.errors import RatingsError

#: Fewest photos the app accepts; the method is designed for 10-100 judgements.
MIN_RATED = 2


def dense_ranks(ratings: Sequence[float | None]) -> torch.Tensor:
    """The ratings as dense ranks (0 = lowest), float32, NaN where a photo has no rating.

    Only their order is ever used (pairs and rank correlations), and ranks keep it exactly where
    float32 would not: ratings near ±1e308 overflow it, and close values such as 1e9 and 1e9 + 1
    would become ties.
    """
    values = np.asarray([math.nan if r is None else float(r) for r in ratings], dtype=np.float64)
    if np.isinf(values).any():
        raise RatingsError("ratings must be finite numbers")
    rated = ~np.isnan(values)
    ranks = np.full(values.shape, np.nan, dtype=np.float32)
    if rated.any():
        ranks[rated] = np.unique(values[rated], return_inverse=True)[1].reshape(-1)
    return torch.from_numpy(ranks)


@dataclass
class Judgements:
    """Star ranks and decided comparisons over the same K photos (indices into the photo list)."""

    ratings: torch.Tensor  # [K] float32 dense ranks, NaN for a photo without stars
    comparisons: torch.Tensor  # [K, K] bool, True where the user chose row over column

    @classmethod
    def from_ratings(cls, ratings: Sequence[float]) -> Judgements:
        """Stars only: every photo must be rated, with at least two different values."""
        values = [float(r) for r in ratings]
        if any(math.isnan(v) for v in values):
            raise RatingsError("ratings must be finite numbers")
        return cls.build(values, [])

    @classmethod
    def build(
        cls, ratings: Sequence[float | None], comparisons: Sequence[tuple[int, int]]
    ) -> Judgements:
        """Judgements over ``len(ratings)`` photos: their stars (None: none) and (better, worse) index pairs.

        Raises :class:`RatingsError` for fewer than :data:`MIN_RATED` photos, a pair outside them or of
        a photo with itself, and when nothing is ordered (no comparison and all stars equal).
        """
        k = len(ratings)
        if k < MIN_RATED:
            raise RatingsError(f"need at least {MIN_RATED} rated photos, got {k}")
        matrix = torch.zeros(k, k, dtype=torch.bool)
        for better, worse in comparisons:
            if not (0 <= better < k and 0 <= worse < k):
                raise RatingsError(f"a comparison names photo {max(better, worse)} of only {k}")
            if better == worse:
                raise RatingsError("a comparison compares a photo with itself")
            matrix[better, worse] = True
        judgements = cls(dense_ranks(ratings), matrix)
        if not judgements.has_pairs:
            if comparisons:
                raise RatingsError("no ordered pair to learn from")
            raise RatingsError(
                "all ratings are equal: give at least two different ratings so there is an order to learn"
            )
        return judgements

    @property
    def n_photos(self) -> int:
        return int(self.ratings.numel())

    @property
    def n_answers(self) -> int:
        """What the user told: one per starred photo and one per decided comparison. Stars alone give one
        per photo; a comparison gives one for two photos, so this, not the photos, counts what is known."""
        return self.n_starred + int(self.comparisons.sum())

    @property
    def n_starred(self) -> int:
        """Photos with stars (the others are only compared)."""
        return int((~torch.isnan(self.ratings)).sum())

    @property
    def ranking_equivalent(self) -> float:
        """How many photos a full ranking would need to order as many pairs as these judgements do, and at
        least the starred photos: (1 + sqrt(1 + 8 P)) / 2 for P ordered pairs. Stars alone give their photo
        count (K photos order at most K (K - 1) / 2 pairs); 20 comparisons order 20 pairs, as 6.8 ranked
        photos would. The top tuning's step size follows it (docs/comparisons.md)."""
        ordered = int(self.matrix().sum())
        return max(float(self.n_starred), (1.0 + math.sqrt(1.0 + 8.0 * ordered)) / 2.0)

    @property
    def has_comparisons(self) -> bool:
        return bool(self.comparisons.any())

    @property
    def mostly_comparisons(self) -> bool:
        """More decided comparisons than starred photos: the fast solver then fits the coefficients at every
        count (FastOptions.keeps_init), because pairs chosen from init-only profiles taught less."""
        return int(self.comparisons.sum()) > self.n_starred

    @property
    def has_pairs(self) -> bool:
        return bool(self.matrix().any())

    def matrix(self, photos: torch.Tensor | None = None) -> torch.Tensor:
        """Bool [B, B]: True where photo ``photos[a]`` is judged better than ``photos[b]`` (stars or a choice)."""
        if photos is None:
            return preference_pairs(self.ratings) | self.comparisons
        photos = photos.cpu()
        return preference_pairs(self.ratings[photos]) | self.comparisons[photos][:, photos]

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(better, worse) index lists of every ordered pair (a choice that repeats a star pair counts once)."""
        better, worse = self.matrix().nonzero(as_tuple=True)
        return better, worse

    def restricted(self, photos: torch.Tensor) -> Judgements:
        """The judgements among ``photos`` only, re-indexed in their order."""
        photos = photos.cpu()
        return Judgements(self.ratings[photos], self.comparisons[photos][:, photos])

    def to(self, device: torch.device | str) -> Judgements:
        return Judgements(self.ratings.to(device), self.comparisons.to(device))

    def agreement(self, scores: torch.Tensor) -> float:
        """How well ``scores`` [K] order the photos, on the scale of a rank correlation (-1 .. 1).

        Stars only: the SROCC with the ratings, as the paper measures it. With comparisons the pairs are
        what is known, so it is the pairs' Kendall-style agreement ``tau`` (right minus wrong, over all
        pairs) mapped to the Spearman value it corresponds to for normally distributed scores,
        ``(6/pi) asin(sin(pi tau / 2) / 2)``; the adaptive init's temperature then means the same for both.
        """
        if not self.has_comparisons:
            rated = ~torch.isnan(self.ratings.cpu())
            return srocc(scores.detach().cpu()[rated].numpy(), self.ratings.cpu()[rated].numpy())
        tau = pair_tau(scores, *self.pairs())
        return float(6 / math.pi * math.asin(math.sin(math.pi * tau / 2) / 2))

    def fraction_right(self, scores: torch.Tensor) -> float:
        """Share of the ordered pairs ``scores`` put the right way round (a tie counts half)."""
        return (pair_tau(scores, *self.pairs()) + 1) / 2


def pair_tau(scores: torch.Tensor, better: torch.Tensor, worse: torch.Tensor) -> float:
    """Mean of sign(score[better] - score[worse]) over the pairs: 1 all right, -1 all wrong, 0 none."""
    if better.numel() == 0:
        return 0.0
    scores = scores.detach().cpu().double()
    return float(torch.sign(scores[better.cpu()] - scores[worse.cpu()]).mean())
