"""DARTS-space search: two-phase selection (ops, then 2 inputs per node), counts, end-to-end runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scoring.scorers.scorer import OperationScorer, ScoringContext
from search.cli import build_parser, main
from runtime.settings import given
from search.config import SearchConfig
from search.plugins import load_search_config, search_config
from search.search_run import run_search
from search.proposals import DecisionLog, propose
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig
from supernet.spaces.darts import DartsGenotype, parse_darts_genotype

ORDERS = ["fixed", "random", "global-op-iter", "global-edge-iter", "global-op-once", "global-edge-once"]


class _Stream:
    def next(self):
        return torch.zeros(1), torch.zeros(1)


class RandomScorer(OperationScorer):
    """Seeded random raw scores for ops and edge removals; checks it only scores live edges."""

    name = "random-test"
    direction = "min"

    def __init__(self, ctx: ScoringContext, seed: int, removal: dict[str, float] | None = None) -> None:
        super().__init__(ctx)
        self.rng = np.random.default_rng(seed)
        self.removal = removal

    def score_op(self, edge, op, batch):
        assert op in self.ctx.state.active(edge)
        self.evaluations += 1
        return float(self.rng.normal())

    def score_edge_removal(self, edge, batch):
        assert len(self.ctx.state.active(edge)) == 1  # decided and not yet removed
        self.evaluations += 1
        return self.removal[edge] if self.removal else float(self.rng.normal())


def run_proposal(space_name: str, order: str, seed: int, removal=None, **options):
    space = get_space(space_name, **options)
    state = space.new_state()
    scorer = RandomScorer(ScoringContext(space, torch.nn.Identity(), state), seed, removal)
    log = DecisionLog()
    with scorer.session():
        p = propose(space, scorer, state, state.snapshot(), order, _Stream(), seed, 0, log)
    return space, p, log.rows


def check_genotype(space, g: DartsGenotype, rows: list[dict]) -> None:
    """2 distinct inputs per node, each through the op decided for that edge, never a dropped edge; 'none' never
    appears: a node that kept an edge decided 'none' takes instead its lowest other input whose weight (in
    RobustDARTS's parser of the projected weights) is 0, through its first op other than 'none'."""
    decided = {r["edge"]: r["choice"] for r in rows if r["phase"] == "operation"}
    dropped = {r["dropped"] for r in rows if r["phase"] == "topology"}
    cand = space.candidates()
    assert len(decided) == 28
    for ct in ("normal", "reduce"):
        pairs = getattr(g, ct)
        assert len(pairs) == 8 and getattr(g, f"{ct}_concat") == [2, 3, 4, 5]
        for k in range(4):
            node = 2 + k
            (op_a, a), (op_b, b) = pairs[2 * k], pairs[2 * k + 1]
            assert a != b and 0 <= a < node and 0 <= b < node
            kept = [j for j in range(node) if f"{ct}:{node}<-{j}" not in dropped]
            assert len(kept) == 2
            real = [j for j in kept if decided[f"{ct}:{node}<-{j}"] != "none"]
            zero = [j for j in range(node) if j not in real]  # weight 0: kept with 'none', or dropped
            expected = sorted(real + zero[: 2 - len(real)])
            assert [a, b] == expected
            for op, j in ((op_a, a), (op_b, b)):
                e = f"{ct}:{node}<-{j}"
                assert op == (decided[e] if j in real else next(o for o in cand[e] if o != "none"))
                assert op != "none" and op in cand[e]


@pytest.mark.parametrize("space_name, options", [("darts", {}), ("darts", {"include_none": True}),
                                                 ("darts-s1", {}), ("darts-s3", {}), ("darts-s4", {})])
def test_derived_genotypes_are_valid(space_name, options):
    for seed in range(8):
        for order in ("random", "global-edge-once"):
            space, p, rows = run_proposal(space_name, order, seed, **options)
            check_genotype(space, parse_darts_genotype(p.genotype), rows)


@pytest.mark.parametrize("space_name, ops, options", [("darts", 7, {}), ("darts", 8, {"include_none": True}),
                                                      ("darts-s1", 2, {}), ("darts-s3", 3, {})])
@pytest.mark.parametrize("order", ORDERS)
def test_table5_counts_over_the_28_edges_and_topology_count(space_name, ops, options, order):
    _, p, rows = run_proposal(space_name, order, 0, **options)
    E = 28
    expected = {"fixed": ops * E, "random": ops * E, "global-op-iter": ops * E * (E + 1) // 2,
                "global-edge-iter": ops * E * (E + 1) // 2, "global-op-once": 2 * ops * E - ops,
                "global-edge-once": 2 * ops * E - ops}[order]
    assert p.evaluations == expected
    # per cell type, nodes with 3, 4, 5 inputs: 3 + (4 + 3) + (5 + 4 + 3) = 22 removals scored
    assert p.topology_evaluations == 2 * 22
    assert len([r for r in rows if r["phase"] == "topology"]) == 2 * (1 + 2 + 3)


def test_topology_drops_the_least_harmful_edge_first():
    """Removal scores S(A - e) are fixed per source node j; zc-pt keeps the edges whose removal lowers S most."""
    by_source = {0: 1.0, 1: 5.0, 2: 3.0, 3: 4.0, 4: 2.0}
    removal = {f"{ct}:{i}<-{j}": by_source[j] for ct in ("normal", "reduce") for i in range(2, 6) for j in range(i)}
    space, p, rows = run_proposal("darts", "fixed", 0, removal)
    g = parse_darts_genotype(p.genotype)
    # node 2: 0, 1 (nothing to drop); node 3: drop 1 -> keep 0, 2; node 4: drop 1, 3 -> 0, 2;
    # node 5: drop 1, 3, 2 -> keep 0, 4
    for ct in ("normal", "reduce"):
        assert [j for _, j in getattr(g, ct)] == [0, 1, 0, 2, 0, 2, 0, 4]
    topo = [r for r in rows if r["phase"] == "topology" and r["node"] == "normal:5"]
    assert [r["dropped"] for r in topo] == ["normal:5<-1", "normal:5<-3", "normal:5<-2"]
    assert [len(r["scores"]) for r in topo] == [5, 4, 3]


def tiny(**kw) -> SearchConfig:
    base = dict(space="darts-s2", dataset="synthetic", channels=2, cells=1, val_channels=2, val_cells=1,
                batch_size=4, iterations=1, validation_batches=1, seed=0)
    return search_config(**{**base, **kw}).validate()


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS)
def test_tiny_darts_search_end_to_end_for_every_order(tmp_path, order):
    res = run_search(tiny(order=order), tmp_path / "r", progress=False)
    E, O = 28, 2
    assert res["perturbations_per_iteration"] == {
        "fixed": O * E, "random": O * E, "global-op-iter": O * E * (E + 1) // 2,
        "global-edge-iter": O * E * (E + 1) // 2, "global-op-once": 2 * O * E - O,
        "global-edge-once": 2 * O * E - O}[order]
    assert res["topology_perturbations_per_iteration"] == 44
    space = get_space("darts-s2")
    g = parse_darts_genotype(res["genotype"])
    assert space.genotype_from_json(res["genotype_json"]) == g
    rows = [json.loads(line) for line in (tmp_path / "r" / "decisions.jsonl").read_text().splitlines()]
    check_genotype(space, g, rows)


@pytest.mark.slow
def test_tiny_search_in_the_full_darts_space(tmp_path):
    res = run_search(tiny(space="darts", order="fixed"), tmp_path / "r", progress=False)
    assert res["perturbations_per_iteration"] == 7 * 28 and res["topology_perturbations_per_iteration"] == 44
    assert "none" not in res["genotype"]
    net = get_space("darts").build_network(parse_darts_genotype(res["genotype"]), NetConfig(channels=2, cells=3))
    assert net.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.slow
def test_noise_space_search_is_reproducible_with_the_seed(tmp_path):
    a = run_search(tiny(space="darts-s4", seed=4), tmp_path / "a", progress=False)
    b = run_search(tiny(space="darts-s4", seed=4), tmp_path / "b", progress=False)
    assert a["genotype"] == b["genotype"]
    assert (tmp_path / "a" / "decisions.jsonl").read_text() == (tmp_path / "b" / "decisions.jsonl").read_text()


@pytest.mark.slow
def test_resume_inside_an_iteration_of_a_noise_space_search_continues_exactly(tmp_path, kill_after_steps):
    """The noise op draws from the RNG in every forward: the replayed steps must leave it as they found it."""
    from conftest import Killed
    full = run_search(tiny(space="darts-s4", seed=4), tmp_path / "full", progress=False)
    kill_after_steps(iteration=0, steps=10)
    with pytest.raises(Killed):
        run_search(tiny(space="darts-s4", seed=4), tmp_path / "part", progress=False)
    resumed = run_search(tiny(space="darts-s4", seed=4), tmp_path / "part", resume=True, progress=False)
    assert resumed["genotype"] == full["genotype"]
    assert (tmp_path / "part" / "decisions.jsonl").read_text() == (tmp_path / "full" / "decisions.jsonl").read_text()
    for key in ("perturbations_per_iteration", "topology_perturbations_per_iteration"):
        assert resumed[key] == full[key]


def test_only_scorers_without_state_between_decisions_are_replayable():
    space = get_space("darts-s2")
    state = space.new_state()

    class Tuning(RandomScorer):
        def after_decision(self, edge, op):
            pass

    assert RandomScorer(ScoringContext(space, torch.nn.Identity(), state), 0).replayable
    tuning = Tuning(ScoringContext(space, torch.nn.Identity(), state), 0)
    assert not tuning.replayable
    with pytest.raises(ValueError, match="cannot be replayed"):
        propose(space, tuning, state, state.snapshot(), "fixed", _Stream(), 0, 0, DecisionLog(), record=print)


def test_include_none_flag_reaches_the_space(tmp_path, capsys):
    args = build_parser().parse_args(["search", "--space", "darts", "--include-none"])
    cfg = load_search_config(None, {**given(args, SearchConfig), "include_none": args.include_none})
    assert cfg.include_none is True and cfg.space_options() == {"include_none": True}
    space = get_space(cfg.space, **cfg.space_options())
    assert all(ops[0] == "none" for ops in space.candidates().values())
    assert search_config().space_options() == {}
    assert main(["search", "--space", "nb201", "--include-none", "--dataset", "synthetic", "--out",
                 str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "--include-none (command line) is an option of space 'darts'; this run uses 'nb201'" in capsys.readouterr().err
