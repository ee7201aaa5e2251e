"""Edge orders: which edge to decide next (Xiang et al. 2023, Section 4.2 and Table 5).

An order drives one proposal iteration through a `DecisionControl`: it asks for keep-scores
(higher = keep, NaN rule of scoring.selection) of edges and commits decisions. A new minibatch
is drawn for every decision step and shared by all scoring within that step.

Cost per proposal iteration (Table 5), counted as scored (edge, op) pairs, i.e. forwards of an
edited supernet for the perturbation scorers; |O_e| = active ops of edge e, E = the edges:
- fixed, random:            sum_e |O_e|                       (= |O||E| with equal op counts)
- global-op/edge-iter:      sum_k k |O_(e_k)|, e_k the k-th decided edge (= |O||E|(|E|+1)/2)
- global-op/edge-once:      2 sum_e |O_e| - |O_(e_1)|, e_1 the first edge in the derived order
                            (= 2|O||E| - |O|: its A_0 scores, on the same minibatch, are reused)
"Globally best" is the highest keep-score; ties go to the earlier edge in the space's order, then
to the earlier op. An edge summary (best or mean keep-score) ignores NaN scores; an edge whose
scores are all NaN ranks last.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

import numpy as np

from runtime.settings import NoOptions, plugin_settings
from scoring.selection import best
from supernet.registry import Registry


class DecisionControl(Protocol):
    """What an order may do during one proposal iteration."""

    def undecided(self) -> list[str]:
        """Edges of the current phase still undecided, in the space's (input to output) order."""

    def score(self, edge: str) -> dict[str, float]:
        """Keep-scores of the active ops of `edge` on the current step's minibatch."""

    def decide(self, edge: str, op: str, scores: dict[str, float]) -> None:
        """Commit `op` on `edge`, log the step, and move to the next step (and minibatch)."""


class EdgeOrder(ABC):
    """Base of every edge order."""

    name: ClassVar[str] = ""
    Settings: ClassVar[type] = NoOptions  # the order's own options (flags, YAML keys)

    def __init__(self, rng: np.random.Generator, **options: Any) -> None:
        self.rng = rng
        self.settings: Any = plugin_settings(self.Settings, options, f"edge order {self.name!r}")

    @abstractmethod
    def run(self, ctl: DecisionControl) -> None:
        """Decide every undecided edge through `ctl`."""

    @staticmethod
    @abstractmethod
    def evaluations(sizes: Sequence[int]) -> int:
        """Table 5: scored (edge, op) pairs of one proposal, given |O_e| of the edges in decision order."""

    @staticmethod
    def decide_in_turn(ctl: DecisionControl, edges: list[str]) -> None:
        """Score each edge at its turn and commit its best op."""
        for e in edges:
            scores = ctl.score(e)
            ctl.decide(e, best(scores, e), scores)


ORDERS: Registry[type[EdgeOrder]] = Registry("edge order")


@ORDERS.register("fixed")
class FixedOrder(EdgeOrder):
    """Edges from the input towards the output (the space's edge order). |O||E| evaluations."""

    evaluations = staticmethod(sum)

    def run(self, ctl: DecisionControl) -> None:
        self.decide_in_turn(ctl, ctl.undecided())


@ORDERS.register("random")
class RandomOrder(EdgeOrder):
    """A seeded random permutation of the edges per proposal iteration. |O||E| evaluations."""

    evaluations = staticmethod(sum)

    def run(self, ctl: DecisionControl) -> None:
        edges = ctl.undecided()
        self.decide_in_turn(ctl, [edges[i] for i in self.rng.permutation(len(edges))])


def best_keep(keep: Mapping[str, float]) -> float:
    """An edge's best keep-score, NaN ignored (NaN when every score is NaN)."""
    finite = [v for v in keep.values() if not math.isnan(v)]
    return max(finite) if finite else math.nan


def mean_keep(keep: Mapping[str, float]) -> float:
    """An edge's mean keep-score over its non-NaN ops (NaN when every score is NaN)."""
    finite = [v for v in keep.values() if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def rank_edges(summary: Mapping[str, float]) -> list[str]:
    """Edges by descending summary; ties keep the given (space) order; NaN last."""
    return sorted(summary, key=lambda e: (not math.isnan(summary[e]), summary[e]), reverse=True)


class _GlobalIter(EdgeOrder):
    """Every step: score all ops of all undecided edges on the step's minibatch, decide the edge with
    the best summary with its best op, repeat (re-scoring). sum_k k |O_(e_k)| evaluations."""

    summarise: ClassVar[Callable[[Mapping[str, float]], float]]

    @staticmethod
    def evaluations(sizes: Sequence[int]) -> int:
        return sum(k * s for k, s in enumerate(sizes, start=1))

    def run(self, ctl: DecisionControl) -> None:
        while True:
            edges = ctl.undecided()
            if not edges:
                return
            scores = {e: ctl.score(e) for e in edges}
            e = best({e: self.summarise(scores[e]) for e in edges}, f"{self.name} edge choice")
            ctl.decide(e, best(scores[e], e), scores[e])


class _GlobalOnce(EdgeOrder):
    """Score all ops of all edges once on A_0, order the edges by their summary (best first), then
    decide them in turn; the first edge reuses its A_0 scores. 2 sum_e |O_e| - |O_(e_1)| evaluations."""

    summarise: ClassVar[Callable[[Mapping[str, float]], float]]

    @staticmethod
    def evaluations(sizes: Sequence[int]) -> int:
        return 2 * sum(sizes) - sizes[0] if sizes else 0

    def run(self, ctl: DecisionControl) -> None:
        edges = ctl.undecided()
        if not edges:
            return
        scores = {e: ctl.score(e) for e in edges}
        order = rank_edges({e: self.summarise(scores[e]) for e in edges})
        first = order[0]
        ctl.decide(first, best(scores[first], first), scores[first])
        self.decide_in_turn(ctl, order[1:])


@ORDERS.register("global-op-iter")
class GlobalOpIter(_GlobalIter):
    """Decide the edge holding the globally best (edge, op) score, re-scoring after every decision."""

    summarise = staticmethod(best_keep)


@ORDERS.register("global-edge-iter")
class GlobalEdgeIter(_GlobalIter):
    """Decide the edge with the best mean op score with its best op, re-scoring after every decision."""

    summarise = staticmethod(mean_keep)


@ORDERS.register("global-op-once")
class GlobalOpOnce(_GlobalOnce):
    """Edge order fixed up front by each edge's best op score on A_0."""

    summarise = staticmethod(best_keep)


@ORDERS.register("global-edge-once")
class GlobalEdgeOnce(_GlobalOnce):
    """Edge order fixed up front by each edge's mean op score on A_0."""

    summarise = staticmethod(mean_keep)
