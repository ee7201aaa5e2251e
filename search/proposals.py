"""Zero-Cost-PT (Xiang et al. 2023, Section 4.1): N proposal iterations from the same untrained A_0,
each deciding every edge in an edge order with an operation scorer (this module; the validation stage
that ranks the unique candidates is search.validators, the stages are search.strategies.zcpt). The
proposal loop is generic over scorers and orders.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from runtime import seeds
from runtime.rng import set_torch_rng_text, torch_rng_text
from runtime.seeds import derive_seed
from scoring.scorers import OperationScorer
from scoring.selection import best, orient
from supernet.arch_state import ArchState
from supernet.spaces.space import SearchSpace

from .batches import Batch, BatchStream
from .orders import ORDERS

log = logging.getLogger(__name__)


@dataclass
class Proposal:
    """One proposal iteration's outcome."""

    iteration: int
    genotype: str
    seconds: float
    evaluations: int
    topology_evaluations: int = 0


class DecisionLog:
    """Collects every scoring decision; `sink` is called after each one (to persist it)."""

    def __init__(self, sink: Callable[[list[dict]], None] | None = None) -> None:
        self.rows: list[dict] = []
        self.sink = sink

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if self.sink is not None:
            self.sink(self.rows)


class ReplayMismatch(RuntimeError):
    """Replaying an interrupted proposal iteration led to a decision other than the recorded one."""


@dataclass
class _Control:
    """The DecisionControl an order drives: one fresh minibatch per decision step.

    Step records make an operation phase resumable: `record` gets, after each decision, every raw
    score of the step, the choice, the evaluation count, the RNG state and the iteration's seconds so
    far; given the records of an interrupted run as `replay`, the first steps take their scores from
    them instead of evaluating, draw the same minibatches and end with the same RNG state, so the
    order (a deterministic function of the scores) continues exactly where the interrupted run stopped."""

    scorer: OperationScorer
    state: ArchState
    edges: list[str]
    stream: BatchStream
    log: DecisionLog
    iteration: int
    step: int = 0
    phase: str = "operation"
    replay: list[dict] = field(default_factory=list)
    record: Callable[[dict], None] | None = None
    replayed: int = 0  # evaluations taken from `replay`
    clock0: float = 0.0  # perf_counter value at which the iteration (counting replayed time) began
    _batch: Batch | None = None
    _raw: dict[str, dict[str, float]] = field(default_factory=dict)
    _evals0: int = 0

    def __post_init__(self) -> None:
        self._evals0 = self.scorer.evaluations

    def batch(self) -> Batch:
        if self._batch is None:
            self._batch = self.stream.next()
        return self._batch

    def undecided(self) -> list[str]:
        return [e for e in self.edges if self.state.decided(e) is None]

    def _replaying(self) -> dict | None:
        return self.replay[self.step] if self.step < len(self.replay) else None

    def score(self, edge: str) -> dict[str, float]:
        rec = self._replaying()
        if rec is not None and edge in rec["scores"]:
            self.batch()  # draw it all the same: the stream stays where the interrupted run had it
            raw = {op: float(v) for op, v in rec["scores"][edge].items()}  # NaN/inf were saved as text
        else:
            raw = self.scorer.score_edge(edge, self.batch())
        self._raw[edge] = raw
        return orient(raw, self.scorer.direction)

    def decide(self, edge: str, op: str, scores: dict[str, float]) -> None:
        rec = self._replaying()
        if rec is not None:
            if [edge, op] != list(rec["choice"]):
                raise ReplayMismatch(f"iteration {self.iteration}, step {self.step}: decided {edge}={op}, "
                                     f"recorded {rec['choice'][0]}={rec['choice'][1]}")
            self.replayed += int(rec["evaluations"])
        self.state.decide(edge, op)
        self.log.add({"iteration": self.iteration, "phase": self.phase, "step": self.step, "edge": edge,
                      "scores": self._raw.get(edge, {}), "direction": self.scorer.direction, "choice": op})
        self.scorer.after_decision(edge, op)
        if rec is not None:
            set_torch_rng_text(rec["rng"], self.stream.device)
        elif self.record is not None:
            self.record({"step": self.step, "scores": self._raw, "choice": [edge, op],
                         "evaluations": self.scorer.evaluations - self._evals0, "rng": torch_rng_text(self.stream.device),
                         "elapsed": time.perf_counter() - self.clock0})
        self.step += 1
        self._batch, self._raw = None, {}
        self._evals0 = self.scorer.evaluations


def select_topology(space: SearchSpace, scorer: OperationScorer, state: ArchState, stream: BatchStream,
                    log_: DecisionLog, iteration: int) -> int:
    """Topology phase: each group keeps `keep` input edges; repeatedly drop the edge whose removal
    the scorer judges least harmful (perturbing an edge = removing it). Returns the evaluation count."""
    before = scorer.evaluations
    direction = scorer.topology_direction
    groups = space.topology_groups()
    for step, group in enumerate(groups):
        batch = stream.next()
        dropped = False
        while True:
            live = [e for e in group.edges if state.active(e)]
            if len(live) <= group.keep:
                if dropped:
                    scorer.after_topology(group.node, last=step == len(groups) - 1)
                break
            raw = {e: scorer.score_edge_removal(e, batch) for e in live}
            keep = orient(raw, direction)
            drop = best({e: -v for e, v in keep.items()}, group.node)
            state.set_active(drop, [])
            dropped = True
            log_.add({"iteration": iteration, "phase": "topology", "step": step, "node": group.node,
                      "scores": raw, "direction": direction, "dropped": drop})
    return scorer.evaluations - before


def checkpointed_seconds(replay: Sequence[dict]) -> float:
    """Seconds the interrupted run had spent in the iteration by its last recorded step (0 for step
    records of the older layout, which did not record them)."""
    return float(replay[-1].get("elapsed", 0.0)) if replay else 0.0


def propose(space: SearchSpace, scorer: OperationScorer, state: ArchState, a0: dict, order_name: str,
            stream: BatchStream, seed: int, iteration: int, log_: DecisionLog,
            replay: list[dict] | None = None, record: Callable[[dict], None] | None = None,
            order_options: Mapping[str, Any] | None = None) -> Proposal:
    """One proposal iteration from A_0: decide every edge in the order, then the topology.

    Runs inside `scorer.session()`, opened once per search (hooks are attached once). `record` and
    `replay` checkpoint and resume the operation phase step by step (see `_Control`); only for
    scorers that keep no state between decisions (`scorer.replayable`)."""
    if (replay or record) and not scorer.replayable:
        raise ValueError(f"scorer {scorer.name!r} changes the supernet between decisions; it cannot be replayed")
    replay = list(replay or [])
    t0 = time.perf_counter() - checkpointed_seconds(replay)  # seconds spent before a kill count
    state.restore(a0)
    order = ORDERS.create(order_name, rng=np.random.default_rng(derive_seed(seed, seeds.PROPOSAL, iteration, 1)),
                          **(order_options or {}))
    before = scorer.evaluations
    ctl = _Control(scorer, state, state.undecided(), stream, log_, iteration, replay=replay, record=record,
                   clock0=t0)
    order.run(ctl)
    if ctl.step < len(ctl.replay):
        raise ReplayMismatch(f"iteration {iteration}: {len(ctl.replay)} steps recorded, {ctl.step} replayed")
    evaluations = scorer.evaluations - before + ctl.replayed
    topo = select_topology(space, scorer, state, stream, log_, iteration)
    genotype = space.format_genotype(space.genotype_from_state(state))
    state.restore(a0)
    return Proposal(iteration, genotype, time.perf_counter() - t0, evaluations, topo)
