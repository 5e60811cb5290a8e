"""Rank correlation, the measure every PIAA result is quoted in."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def srocc(predicted: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank-order correlation; 0.0 when either side is constant (no ranking information)."""
    a = np.asarray(predicted, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.shape} vs {b.shape}")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    value = float(stats.spearmanr(a, b).statistic)
    return 0.0 if math.isnan(value) else value


def plcc(predicted: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray) -> float:
    """Pearson's linear correlation; 0.0 when either side is constant."""
    a = np.asarray(predicted, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])
