"""disc-acc (Xiang et al. 2023, eq. 4): keep the op whose discretization A+(e,o) gives the highest
validation accuracy of the trained supernet, optionally after a short fine-tune of the discretized
supernet (undone after scoring; every op of an edge gets the same data order)."""
from __future__ import annotations

import torch

from .base import SCORERS, Batch, ScoringContext
from .darts_pt import TrainedScorer


@SCORERS.register("disc-acc")
class DiscAcc(TrainedScorer):
    """disc-acc, eq. 4: V(A_t + (e, o)) (argmax); fine-tunes between decisions like darts-pt."""

    direction = "max"

    def __init__(self, ctx: ScoringContext) -> None:
        super().__init__(ctx)
        self.disc_tune_epochs = float(ctx.disc_tune_epochs)
        self._seed: int | None = None

    def score_edge(self, edge: str, batch: Batch) -> dict[str, float]:
        self._seed = int(torch.randint(0, 2 ** 62, (1,))) if self.disc_tune_epochs > 0 else None
        try:
            return super().score_edge(edge, batch)
        finally:
            self._seed = None

    def score_op(self, edge: str, op: str, batch: Batch) -> float:
        self._begin()
        with self.ctx.state.discretize(edge, op):
            if self.disc_tune_epochs <= 0:
                return self._accuracy()
            seed = self._seed if self._seed is not None else int(torch.randint(0, 2 ** 62, (1,)))
            with self.trained.trial():
                self.trained.fine_tune(self.disc_tune_epochs, seed)
                return self._accuracy()
