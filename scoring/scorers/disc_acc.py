"""disc-acc (Xiang et al. 2023, eq. 4): keep the op whose discretization A+(e,o) gives the highest
validation accuracy of the trained supernet, optionally after a short fine-tune of the discretized
supernet (undone after scoring; every op of an edge gets the same data order)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from runtime.settings import setting

from .scorer import SCORERS, Batch, ScoringContext
from .darts_pt import TrainedScorer, TunedScorerSettings


@dataclass
class DiscAccSettings(TunedScorerSettings):
    """disc-acc's own option beside the fine-tuning ones."""

    disc_tune_epochs: float = setting(0.0, "disc-acc: fine-tune each discretized supernet for this many epochs "
                                           "before scoring", minimum=0.0)


@SCORERS.register("disc-acc")
class DiscAcc(TrainedScorer):
    """disc-acc, eq. 4: V(A_t + (e, o)) (argmax); fine-tunes between decisions like darts-pt."""

    direction = "max"
    Settings = DiscAccSettings

    def __init__(self, ctx: ScoringContext, **options: Any) -> None:
        super().__init__(ctx, **options)
        self.disc_tune_epochs = float(self.settings.disc_tune_epochs)
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
