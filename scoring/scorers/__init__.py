"""Operation scorers, registered by name in SCORERS."""
from .base import SCORERS, Batch, OperationScorer, ScoringContext
from . import zero_cost  # noqa: F401  (registers itself)

__all__ = ["SCORERS", "Batch", "OperationScorer", "ScoringContext"]
