"""Selection from scores, with the one NaN rule of the engine.

Rule: scores are first oriented so that higher means "keep" (argmin scorers are negated).
+-inf are ordinary extreme values. NaN never wins: it ranks below every number, a warning is
logged, and if every candidate is NaN the selection fails with a ScoringError naming the edge.
Ties go to the first candidate in the space's op order.
"""
from __future__ import annotations

import logging
import math
from typing import Mapping

log = logging.getLogger(__name__)

DIRECTIONS = ("max", "min")


class ScoringError(RuntimeError):
    """Scores from which no decision can be taken (all NaN)."""


def orient(raw: Mapping[str, float], direction: str) -> dict[str, float]:
    """Raw scores -> keep-scores (higher = keep) for a scorer keeping the argmax or argmin."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    sign = 1.0 if direction == "max" else -1.0
    return {k: sign * v for k, v in raw.items()}


def best(keep: Mapping[str, float], what: str = "") -> str:
    """The key with the highest keep-score under the NaN rule above."""
    finite = {k: v for k, v in keep.items() if not math.isnan(v)}
    if len(finite) < len(keep):
        log.warning("NaN scores for %s on %s; they rank last", sorted(set(keep) - set(finite)), what or "selection")
    if not finite:
        raise ScoringError(f"every score is NaN for {what or 'a selection'}: {dict(keep)}")
    top = max(finite.values())
    return next(k for k, v in finite.items() if v == top)
