"""Rank correlations with the engine's NaN rule: NaN scores are omitted, +-inf are ordinary extremes.

Spearman and Kendall come from scipy.stats (average ranks for ties). A correlation is undefined (NaN)
when fewer than two finite-or-infinite pairs remain or either side is constant.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs where neither value is NaN."""
    if len(x) != len(y):
        raise ValueError(f"correlation of sequences of different lengths ({len(x)} and {len(y)})")
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def _defined(a: np.ndarray, b: np.ndarray) -> bool:
    """At least two pairs and neither side constant."""
    return len(a) >= 2 and np.unique(a).size > 1 and np.unique(b).size > 1


def _ranks_for_scipy(a: np.ndarray) -> np.ndarray:
    """+-inf replaced by values beyond the finite range, so scipy ranks them as extremes."""
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    span = hi - lo + 1.0
    return np.where(a == np.inf, hi + span, np.where(a == -np.inf, lo - span, a))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho over the pairs where neither value is NaN; NaN when undefined."""
    a, b = _pairs(x, y)
    if not _defined(a, b):
        return math.nan
    from scipy.stats import spearmanr  # imported on use: scipy costs ~0.6 s at startup

    return float(spearmanr(_ranks_for_scipy(a), _ranks_for_scipy(b)).statistic)


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b over the pairs where neither value is NaN; NaN when undefined."""
    a, b = _pairs(x, y)
    if not _defined(a, b):
        return math.nan
    from scipy.stats import kendalltau  # imported on use: scipy costs ~0.6 s at startup

    return float(kendalltau(_ranks_for_scipy(a), _ranks_for_scipy(b)).statistic)


def mean_defined(values: Sequence[float]) -> tuple[float, int]:
    """Mean of the non-NaN values and how many there were (NaN mean when none)."""
    vals = [v for v in values if not math.isnan(v)]
    return (float(np.mean(vals)) if vals else math.nan), len(vals)
