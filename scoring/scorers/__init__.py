"""Operation scorers, registered by name in SCORERS."""
from .scorer import SCORERS, Batch, OperationScorer, ScoringContext
from . import zero_cost  # noqa: F401  (registers itself)
from . import darts_alpha, darts_pt, disc_acc  # noqa: F401,E402  (training-based scorers register themselves)

__all__ = ["SCORERS", "Batch", "OperationScorer", "ScoringContext"]
