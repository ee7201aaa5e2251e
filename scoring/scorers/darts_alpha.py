"""darts-alpha (Xiang et al. 2023, eq. 3; Liu et al. 2019): keep the op with the largest trained alpha.

Zero forward passes: the score of (e, o) is o's mixing weight among all candidates of e under the
supernet's evaluation rule (softmax for DARTS, the Dirichlet mean for DrNAS), which orders the ops
as alpha does. Topology (DARTS-like spaces): an edge's strength is the weight of its decided op, and
each node keeps its strongest edges, the DARTS derivation rule.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from supernet.arch_state import ArchState
from supernet.mixing import MIXING
from supernet.spaces.space import SearchSpace

from ..selection import best
from .scorer import SCORERS, Batch, OperationScorer, ScorerSetupError, ScoringContext

DEFAULT_EVAL_MIXING = "softmax"


def candidate_weights(state: ArchState, edge: str, mixing: str = DEFAULT_EVAL_MIXING) -> dict[str, float]:
    """Mixing weight of every candidate of `edge` (all candidates active) under the rule `mixing`."""
    cands = state.candidates(edge)
    with torch.no_grad():
        w = MIXING.get(mixing)(state.alphas[edge].detach(), cands, cands)
    return {o: float(x) for o, x in zip(cands, w)}


def argmax_genotype(space: SearchSpace, state: ArchState, mixing: str = DEFAULT_EVAL_MIXING) -> Any:
    """The DARTS derivation of the current alphas: argmax op per undecided edge, then the strongest
    `keep` edges per topology group (an edge's strength: its op's weight); the state is left as it was. In a
    space whose genotypes hold no 'none' (DARTS's, RobustDARTS's parser) the argmax is over the other ops."""
    snap = state.snapshot()
    try:
        for e in state.undecided():
            w = candidate_weights(state, e, mixing)
            state.decide(e, best({o: w[o] for o in eligible(space, state.active(e))}, e))
        for group in space.topology_groups():
            live = [e for e in group.edges if state.active(e)]
            strength = {e: candidate_weights(state, e, mixing)[state.decided(e)] for e in live}  # type: ignore[index]
            ranked = sorted(live, key=lambda e: -strength[e])
            for e in ranked[group.keep:]:
                state.set_active(e, [])
        return space.genotype_from_state(state)
    finally:
        state.restore(snap)


def eligible(space: SearchSpace, ops: Sequence[str]) -> list[str]:
    """The ops a derivation may choose among `ops`: all but 'none' where the space's genotypes hold none (unless
    'none' is all there is)."""
    if space.genotype_without_none:
        return [o for o in ops if o != "none"] or list(ops)
    return list(ops)


@SCORERS.register("darts-alpha")
class DartsAlpha(OperationScorer):
    """darts-alpha, eq. 3: argmax_o alpha_{e,o} of a trained supernet (--supernet)."""

    direction = "max"
    topology_direction: ClassVar[str] = "max"  # score_edge_removal is the edge's strength: drop the weakest

    def __init__(self, ctx: ScoringContext) -> None:
        super().__init__(ctx)
        missing = [e for e in ctx.state.edge_ids() if e not in ctx.state.alphas]
        if missing:
            raise ScorerSetupError(f"scorer {self.name!r} needs trained alphas: pass --supernet RUN_DIR/supernet.pt "
                                   f"(written by opscore train-supernet)")
        self.mixing = ctx.trained.eval_mixing if ctx.trained is not None else DEFAULT_EVAL_MIXING

    def score_op(self, edge: str, op: str, batch: Batch) -> float:
        return candidate_weights(self.ctx.state, edge, self.mixing)[op]

    def score_edge(self, edge: str, batch: Batch) -> dict[str, float]:
        """The weights of the active ops the derivation may choose (no 'none' where genotypes hold none)."""
        w = candidate_weights(self.ctx.state, edge, self.mixing)
        return {op: w[op] for op in eligible(self.ctx.space, self.ctx.state.active(edge))}

    def score_edge_removal(self, edge: str, batch: Batch) -> float:
        """The strength of `edge`: the weight of its decided (or strongest active) op."""
        w = candidate_weights(self.ctx.state, edge, self.mixing)
        op = self.ctx.state.decided(edge)
        return w[op] if op is not None else max(w[o] for o in eligible(self.ctx.space, self.ctx.state.active(edge)))
