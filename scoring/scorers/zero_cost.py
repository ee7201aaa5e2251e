"""Zero-cost operation scorers on the untrained supernet (Xiang et al. 2023, eqs. 6 and 7)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from supernet.grouped import Variant, discretization, grouped, removal

from ..proxies.proxy import Evaluator
from .scorer import SCORERS, Batch, OperationScorer, ScoringContext


class _ProxyScorer(OperationScorer):
    """Common part: the proxy is attached once per session and evaluated on edited supernets."""

    def __init__(self, ctx: ScoringContext) -> None:
        super().__init__(ctx)
        if ctx.proxy is None:
            raise ValueError(f"scorer {self.name!r} needs a proxy (--proxy)")
        self._evaluate: Evaluator | None = None

    @contextmanager
    def session(self) -> Iterator[OperationScorer]:
        with self.ctx.proxy.session(self.ctx.supernet) as ev:  # type: ignore[union-attr]
            self._evaluate = ev
            try:
                yield self
            finally:
                self._evaluate = None

    def batched(self) -> bool:
        """Whether all ops of an edge are scored in one grouped forward (asked for, and both can)."""
        return self.ctx.batched and self.supports_groups and self.ctx.proxy.supports_groups  # type: ignore[union-attr]

    def score_edge(self, edge: str, batch: Batch) -> dict[str, float]:
        """Raw scores of every active op of `edge`; one grouped forward when batched."""
        if not self.batched():
            return super().score_edge(edge, batch)
        if self._evaluate is None:
            raise RuntimeError("score inside `with scorer.session():`")
        ops = self.ctx.state.active(edge)
        with grouped(self.ctx.state, [self.variant(edge, o) for o in ops]) as grouping:
            scores = self._evaluate.score_groups(*batch, grouping)
        self.evaluations += len(grouping)
        return dict(zip(ops, scores))

    def _run(self, batch: Batch) -> float:
        if self._evaluate is None:
            raise RuntimeError("score inside `with scorer.session():`")
        self.evaluations += 1
        return self._evaluate(*batch)

    def score_edge_removal(self, edge: str, batch: Batch) -> float:
        with self.ctx.state.without_edge(edge):
            return self._run(batch)


@SCORERS.register("zc-pt")
class ZeroCostPT(_ProxyScorer):
    """zc-pt, eq. 7: S(A_t - (e, o)); the op whose removal lowers the proxy most is kept (argmin)."""

    direction = "min"
    supports_groups = True

    def score_op(self, edge: str, op: str, batch: Batch) -> float:
        with self.ctx.state.perturb(edge, op):
            return self._run(batch)

    def variant(self, edge: str, op: str) -> Variant:
        return removal(self.ctx.state, edge, op)


@SCORERS.register("disc-zc")
class DiscreteZeroCost(_ProxyScorer):
    """disc-zc, eq. 6: S(A_t + (e, o)); the op whose discretization scores highest is kept (argmax)."""

    direction = "max"
    supports_groups = True

    def score_op(self, edge: str, op: str, batch: Batch) -> float:
        with self.ctx.state.discretize(edge, op):
            return self._run(batch)

    def variant(self, edge: str, op: str) -> Variant:
        return discretization(edge, op)
