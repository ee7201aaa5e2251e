"""Edge orders: which edge to decide next (Xiang et al. 2023, Section 4.2 and Table 5).

An order drives one proposal iteration through a `DecisionControl`: it asks for keep-scores
(higher = keep, NaN rule of scoring.selection) of edges and commits decisions. A new minibatch
is drawn for every decision step and shared by all scoring within that step.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Protocol

import numpy as np

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

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    @abstractmethod
    def run(self, ctl: DecisionControl) -> None:
        """Decide every undecided edge through `ctl`."""

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

    name = "fixed"

    def run(self, ctl: DecisionControl) -> None:
        self.decide_in_turn(ctl, ctl.undecided())


@ORDERS.register("random")
class RandomOrder(EdgeOrder):
    """A seeded random permutation of the edges per proposal iteration. |O||E| evaluations."""

    name = "random"

    def run(self, ctl: DecisionControl) -> None:
        edges = ctl.undecided()
        self.decide_in_turn(ctl, [edges[i] for i in self.rng.permutation(len(edges))])
