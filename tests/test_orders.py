"""Edge orders: hand-worked decision sequences and the exact perturbation counts of Table 5."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest
import torch

from scoring.scorers.scorer import OperationScorer, ScoringContext
from scoring.selection import ScoringError, orient
from search.orders import ORDERS, best_keep, mean_keep, rank_edges
from search.proposals import DecisionLog, propose
from supernet.spaces.space import SearchSpace

ALL_ORDERS = ["fixed", "random", "global-op-iter", "global-edge-iter", "global-op-once", "global-edge-once"]
# Table 5 by hand, |O_e| of the edges in decision order -> scored (edge, op) pairs
TABLE5: dict[str, Callable[[list[int]], int]] = {
    "fixed": sum, "random": sum,
    "global-op-iter": lambda s: sum(k * n for k, n in enumerate(s, start=1)),
    "global-edge-iter": lambda s: sum(k * n for k, n in enumerate(s, start=1)),
    "global-op-once": lambda s: 2 * sum(s) - s[0], "global-edge-once": lambda s: 2 * sum(s) - s[0],
}
Table = Callable[[dict[str, str], str, str], float]  # (decisions so far, edge, op) -> keep-score


class ScriptedControl:
    """A DecisionControl whose keep-scores come from a table that may depend on earlier decisions."""

    def __init__(self, ops: dict[str, tuple[str, ...]], table: Table, direction: str = "max") -> None:
        self.ops, self.table, self.direction = ops, table, direction
        self.decided: dict[str, str] = {}
        self.evaluations = 0
        self.step = 0
        self.scored_at: list[tuple[int, str]] = []  # (step, edge) of every score() call
        self.sequence: list[tuple[str, str]] = []

    def undecided(self) -> list[str]:
        return [e for e in self.ops if e not in self.decided]

    def score(self, edge: str) -> dict[str, float]:
        assert edge not in self.decided
        sign = 1.0 if self.direction == "max" else -1.0
        raw = {o: sign * self.table(dict(self.decided), edge, o) for o in self.ops[edge]}
        self.evaluations += len(raw)
        self.scored_at.append((self.step, edge))
        return orient(raw, self.direction)

    def decide(self, edge: str, op: str, scores: dict[str, float]) -> None:
        assert edge not in self.decided and op in self.ops[edge]
        self.decided[edge] = op
        self.sequence.append((edge, op))
        self.step += 1


def run_order(name: str, ctl: ScriptedControl, seed: int = 0) -> ScriptedControl:
    ORDERS.get(name)(np.random.default_rng(seed)).run(ctl)
    return ctl


# Hand-worked toy: A_0 keep-scores a: x=5 y=1 | b: x=y=z=4 | c: x=6 y=0.
# Deciding b raises c.y by 10; deciding c raises b.z by 3.
TOY_OPS = {"a": ("x", "y"), "b": ("x", "y", "z"), "c": ("x", "y")}
TOY_BASE = {"a": {"x": 5.0, "y": 1.0}, "b": {"x": 4.0, "y": 4.0, "z": 4.0}, "c": {"x": 6.0, "y": 0.0}}


def toy_table(decided: dict[str, str], edge: str, op: str) -> float:
    v = TOY_BASE[edge][op]
    if edge == "c" and op == "y" and "b" in decided:
        v += 10.0
    if edge == "b" and op == "z" and "c" in decided:
        v += 3.0
    return v


# (sequence, evaluations): |O_a|=2, |O_b|=3, |O_c|=2, sum 7
TOY_EXPECTED = {
    # a (x 5>1), b (all 4: first op), c (y 10 > x 6 once b is decided)
    "fixed": ([("a", "x"), ("b", "x"), ("c", "y")], 7),
    # step 1 best ops a5 b4 c6 -> c:x; step 2 b.z=7 > a5 -> b:z; step 3 a:x. 1*2 + 2*3 + 3*2 = 14
    "global-op-iter": ([("c", "x"), ("b", "z"), ("a", "x")], 14),
    # step 1 means a3 b4 c3 -> b:x; step 2 means a3 c8 -> c:y; step 3 a:x. 1*3 + 2*2 + 3*2 = 13
    "global-edge-iter": ([("b", "x"), ("c", "y"), ("a", "x")], 13),
    # A_0 best ops c6 a5 b4 -> order c, a, b; b.z=7 at its turn. 2*7 - |O_c| = 12
    "global-op-once": ([("c", "x"), ("a", "x"), ("b", "z")], 12),
    # A_0 means b4 a3 c3 (tie a/c -> space order) -> b, a, c; c.y=10 at its turn. 2*7 - |O_b| = 11
    "global-edge-once": ([("b", "x"), ("a", "x"), ("c", "y")], 11),
}


@pytest.mark.parametrize("direction", ["max", "min"])
@pytest.mark.parametrize("name", sorted(TOY_EXPECTED))
def test_hand_worked_sequences_and_counts(name, direction):
    ctl = run_order(name, ScriptedControl(TOY_OPS, toy_table, direction))
    sequence, evaluations = TOY_EXPECTED[name]
    assert ctl.sequence == sequence
    assert ctl.evaluations == evaluations


def test_random_order_is_a_seeded_permutation_scored_at_its_turn():
    seqs = set()
    for seed in range(12):
        ctl = run_order("random", ScriptedControl(TOY_OPS, toy_table), seed)
        edges = tuple(e for e, _ in ctl.sequence)
        assert sorted(edges) == ["a", "b", "c"] and ctl.evaluations == 7
        assert [e for _, e in ctl.scored_at] == list(edges)  # each edge scored once, right before its decision
        seqs.add(edges)
        again = run_order("random", ScriptedControl(TOY_OPS, toy_table), seed)
        assert again.sequence == ctl.sequence
    assert len(seqs) > 1


def test_once_orders_reuse_the_first_edge_scores_and_score_the_rest_at_their_turn():
    ctl = run_order("global-op-once", ScriptedControl(TOY_OPS, toy_table))
    # step 0: every edge once (A_0); then one edge per later step, never the first edge again
    assert ctl.scored_at == [(0, "a"), (0, "b"), (0, "c"), (1, "a"), (2, "b")]


def test_iter_orders_rescore_every_undecided_edge_each_step():
    ctl = run_order("global-op-iter", ScriptedControl(TOY_OPS, toy_table))
    assert ctl.scored_at == [(0, "a"), (0, "b"), (0, "c"), (1, "a"), (1, "b"), (2, "a")]


def random_table(seed: int) -> Table:
    rng = np.random.default_rng(seed)
    cache: dict[tuple, float] = {}

    def table(decided: dict[str, str], edge: str, op: str) -> float:
        key = (tuple(sorted(decided.items())), edge, op)
        if key not in cache:
            cache[key] = float(rng.normal())
        return cache[key]

    return table


@pytest.mark.parametrize("n_edges, n_ops", [(1, 3), (4, 2), (6, 5), (28, 7)])
@pytest.mark.parametrize("name", ALL_ORDERS)
def test_table5_counts_with_equal_op_counts(name, n_edges, n_ops):
    ops = {f"e{k}": tuple(f"o{i}" for i in range(n_ops)) for k in range(n_edges)}
    ctl = run_order(name, ScriptedControl(ops, random_table(n_edges * 10 + n_ops)))
    O, E = n_ops, n_edges
    expected = {"fixed": O * E, "random": O * E, "global-op-iter": O * E * (E + 1) // 2,
                "global-edge-iter": O * E * (E + 1) // 2, "global-op-once": 2 * O * E - O,
                "global-edge-once": 2 * O * E - O}[name]
    assert ctl.evaluations == expected == ORDERS.get(name).evaluations([O] * E)
    assert sorted(e for e, _ in ctl.sequence) == sorted(ops)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", ALL_ORDERS)
def test_declared_costs_with_unequal_op_counts_are_table5(name, seed):
    """Each order's declared cost is Table 5's sum over edges; test_registered checks every order runs at it."""
    sizes = [int(n) for n in np.random.default_rng(100 + seed).integers(2, 7, size=7)]
    assert ORDERS.get(name).evaluations(sizes) == TABLE5[name](sizes)


@pytest.mark.parametrize("name", ORDERS.names())
def test_every_decision_takes_the_best_op_of_its_scores(name):
    """Whatever the order, the committed op is the argmax keep-score of the edge's scores at decision time."""
    table = random_table(7)
    ops = {f"e{k}": tuple(f"o{i}" for i in range(3 + k % 2)) for k in range(5)}
    ctl = run_order(name, ScriptedControl(ops, table))
    decided: dict[str, str] = {}
    for e, op in ctl.sequence:
        scores = {o: table(decided, e, o) for o in ops[e]}
        assert op == max(scores, key=scores.get)
        decided[e] = op


def test_global_op_iter_picks_the_global_argmax_pair():
    table = random_table(3)
    ops = {f"e{k}": ("p", "q", "r") for k in range(4)}
    ctl = run_order("global-op-iter", ScriptedControl(ops, table))
    decided: dict[str, str] = {}
    for e, op in ctl.sequence:
        pairs = {(f, o): table(decided, f, o) for f in ops if f not in decided for o in ops[f]}
        assert (e, op) == max(pairs, key=pairs.get)
        decided[e] = op


def test_summaries_and_ranking_follow_the_nan_rule():
    nan = math.nan
    assert best_keep({"a": 1.0, "b": nan, "c": 3.0}) == 3.0
    assert mean_keep({"a": 1.0, "b": nan, "c": 3.0}) == 2.0
    assert math.isnan(best_keep({"a": nan})) and math.isnan(mean_keep({"a": nan}))
    assert mean_keep({"a": -math.inf, "b": 0.0}) == -math.inf
    assert rank_edges({"u": 1.0, "v": nan, "w": 2.0, "x": 1.0, "y": -math.inf}) == ["w", "u", "x", "y", "v"]


def test_all_nan_edge_is_decided_last_and_then_fails_loudly():
    def table(decided, edge, op):
        return math.nan if edge == "a" else {"x": 1.0, "y": 2.0}[op]

    ops = {"a": ("x", "y"), "b": ("x", "y"), "c": ("x", "y")}
    for name in ("global-op-iter", "global-edge-once"):
        ctl = ScriptedControl(ops, table)
        with pytest.raises(ScoringError, match="'a'|for a:"):
            run_order(name, ctl)
        assert [e for e, _ in ctl.sequence] == ["b", "c"]


# ---------------------------------------------------------------- through the real proposal loop
class _CountingStream:
    """Stands in for BatchStream: batch k is the tensor [k]."""

    def __init__(self) -> None:
        self.k = -1

    def next(self):
        self.k += 1
        return torch.tensor([self.k]), torch.tensor([self.k])


class _ToySpace(SearchSpace):
    name = "toy"

    def __init__(self, ops: dict[str, tuple[str, ...]]) -> None:
        self.ops = ops

    def candidates(self):
        return dict(self.ops)

    def build_supernet(self, state, cfg):
        raise NotImplementedError

    def genotype_from_state(self, state):
        return tuple(state.decided(e) for e in self.ops)

    def build_network(self, genotype, cfg):
        raise NotImplementedError

    def parse_genotype(self, text):
        return tuple(text.split(","))

    def format_genotype(self, genotype):
        return ",".join(genotype)


class TableScorer(OperationScorer):
    """A scorer reading the toy table from the arch state; records the batch of every evaluation."""

    name = "table"
    direction = "min"  # raw = -keep, so the loop's orientation is exercised

    def __init__(self, ctx: ScoringContext, table: Table) -> None:
        super().__init__(ctx)
        self.table = table
        self.batches: list[tuple[int, str]] = []

    def score_op(self, edge, op, batch):
        st = self.ctx.state
        decided = {e: st.decided(e) for e in st.edge_ids() if st.decided(e) is not None}
        self.evaluations += 1
        self.batches.append((int(batch[0][0]), edge))
        return -self.table(decided, edge, op)


@pytest.mark.parametrize("name", sorted(TOY_EXPECTED))
def test_proposal_loop_counts_and_batches(name):
    space = _ToySpace(TOY_OPS)
    state = space.new_state()
    scorer = TableScorer(ScoringContext(space, torch.nn.Identity(), state), toy_table)
    log = DecisionLog()
    with scorer.session():
        p = propose(space, scorer, state, state.snapshot(), name, _CountingStream(), 0, 0, log)
    sequence, evaluations = TOY_EXPECTED[name]
    assert p.evaluations == evaluations and p.topology_evaluations == 0
    assert p.genotype == ",".join(dict(sequence)[e] for e in TOY_OPS)
    assert [(r["edge"], r["choice"]) for r in log.rows] == sequence
    assert [r["step"] for r in log.rows] == [0, 1, 2]
    # one minibatch per decision step, shared by all scoring within the step
    steps_of = {}
    for b, e in scorer.batches:
        steps_of.setdefault(b, set()).add(e)
    assert sorted(steps_of) == list(range(len(steps_of))) and len(steps_of) <= 3
    if name.endswith("-once"):
        assert steps_of[0] == {"a", "b", "c"}
    assert state.undecided() == list(TOY_OPS)  # A_0 restored after the proposal
