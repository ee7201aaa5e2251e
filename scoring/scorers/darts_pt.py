"""darts-pt (Wang et al. 2021; Xiang et al. 2023, eq. 5): keep the op whose removal A-(e,o) lowers the
trained supernet's validation accuracy most (argmin), fine-tuning the supernet between decisions.

The trained supernet comes from `opscore search --supernet` through ScoringContext.trained
(a scoring.trained.TrainedSupernet). Within one search every proposal iteration starts
from the trained weights: fine-tuning is undone when the arch state is back at A_0, and at the end.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from runtime.settings import setting

from ..trained import TrainedSupernet
from .scorer import SCORERS, Batch, OperationScorer, ScorerSetupError, ScoringContext


@dataclass
class TunedScorerSettings:
    """Options of the scorers that fine-tune the trained supernet between decisions (darts-pt, disc-acc)."""

    tune_epochs: float = setting(5.0, "darts-pt/disc-acc: supernet fine-tuning epochs after each decision "
                                      "(DARTS-PT: 5)", minimum=0.0)
    tune_lr: float = setting(0.0025, "darts-pt/disc-acc: fine-tuning learning rate (DARTS-PT: lr/10, constant)")
    fix_alpha: bool = setting(False, "darts-pt/disc-acc: keep the alphas fixed while fine-tuning (DARTS-PT "
                                     "fix-alpha)")
    accuracy_batches: int | None = setting(None, "darts-pt/disc-acc: validation minibatches for accuracy "
                                                 "(default: the whole held-out half)", minimum=1)


class TrainedScorer(OperationScorer):
    """Common part of darts-pt and disc-acc: accuracy of the edited supernet, fine-tuning after decisions."""

    Settings = TunedScorerSettings

    def __init__(self, ctx: ScoringContext, **options: Any) -> None:
        super().__init__(ctx, **options)
        trained = ctx.trained
        if trained is None:
            raise ScorerSetupError(f"scorer {self.name!r} needs a trained supernet: pass --supernet "
                                   f"RUN_DIR/supernet.pt (written by opscore train-supernet)")
        self.trained: TrainedSupernet = trained
        self.tune_epochs = float(self.settings.tune_epochs)
        self._snap: Any = None
        self._a0: dict | None = None
        self._dirty = False

    @contextmanager
    def session(self) -> Iterator[OperationScorer]:
        self._snap, self._a0, self._dirty = self.trained.snapshot(), self.ctx.state.snapshot(), False
        try:
            yield self
        finally:
            if self._dirty:
                self.trained.restore(self._snap)
            self._snap, self._a0, self._dirty = None, None, False

    def _begin(self) -> None:
        """A proposal iteration starts from the trained weights (the arch state is back at A_0)."""
        if self._a0 is None:
            raise RuntimeError("score inside `with scorer.session():`")
        if self._dirty and self.ctx.state.snapshot() == self._a0:
            self.trained.restore(self._snap)
            self._dirty = False

    def _accuracy(self) -> float:
        self.evaluations += 1
        return float(self.trained.accuracy())

    def score_edge(self, edge: str, batch: Batch) -> dict[str, float]:
        self._begin()
        return {op: self.score_op(edge, op, batch) for op in self.ctx.state.active(edge)}

    def score_edge_removal(self, edge: str, batch: Batch) -> float:
        """Accuracy with the whole edge removed; the topology phase drops the edge whose removal hurts least."""
        self._begin()
        with self.ctx.state.without_edge(edge):
            return self._accuracy()

    def after_decision(self, edge: str, op: str) -> None:
        """Fine-tune for `tune_epochs` (DARTS-PT: 5) unless nothing is left to decide."""
        if self.tune_epochs <= 0 or (not self.ctx.state.undecided() and not self.ctx.space.topology_groups()):
            return
        self._fine_tune()

    def after_topology(self, node: str, last: bool) -> None:
        """DARTS-PT (Wang et al. 2021, Alg. 1) also fine-tunes after each node's topology decision."""
        if self.tune_epochs > 0 and not last:
            self._fine_tune()

    def _fine_tune(self) -> None:
        seed = int(torch.randint(0, 2 ** 62, (1,)))  # the run seeds the global generator per proposal
        self.trained.fine_tune(self.tune_epochs, seed)
        self._dirty = True


@SCORERS.register("darts-pt")
class DartsPT(TrainedScorer):
    """darts-pt, eq. 5: V(A_t - (e, o)); the op whose removal lowers validation accuracy most is kept."""

    direction = "min"

    def score_op(self, edge: str, op: str, batch: Batch) -> float:
        self._begin()
        with self.ctx.state.perturb(edge, op):
            return self._accuracy()
