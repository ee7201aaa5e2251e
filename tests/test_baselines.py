"""Baseline strategies (random, naswot, evolution, tenas), sampling and mutation, the score cache and
`opscore report`, on a planted toy space whose best genotype is known by construction."""
from __future__ import annotations

import csv
import itertools
import json
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy import stats
from torch import nn

from scoring.proxies import PROXIES
from scoring.proxies.proxy import Proxy
from scoring.proxies.tenas import Tenas, TenasMeasure, activation_patterns
from search.cli import main as opscore
from search.config import SearchConfig
from search.plugins import search_config
from search.batches import random_patches
from search.search_run import run_search
from search.score_cache import ScoreCache
from search.strategies.tenas_pruning import TenasPruning
from supernet.arch_state import ArchState
from supernet.mixed_op import MixedOp
from supernet.spaces import SPACES
from supernet.spaces.space import GenotypeError, NetConfig, SearchSpace, TopologyGroup

OPS3, OPS2 = ("none", "noise", "signal"), ("noise", "signal")
EDGES = ("a", "b", "n<-0", "n<-1", "n<-2")
GROUP = TopologyGroup("n", ("n<-0", "n<-1", "n<-2"), 1)
# the scripted proxy: a sum of per-edge values, unique maximum 3 + 2 + 2 = 7 at signal-none-x-noise-x
VALUE = {"a": {"none": 0, "noise": 1, "signal": 3}, "b": {"none": 2, "noise": 0, "signal": 1},
         "n<-0": {"noise": 0, "signal": 1}, "n<-1": {"noise": 2, "signal": 0}, "n<-2": {"noise": 1, "signal": 0.5}}
PLANTED = "signal-none-x-noise-x"


class PlantedNet(nn.Module):
    """A stand-alone network that only carries its genotype (the scripted proxy reads it)."""

    def __init__(self, genotype: tuple[str, ...]) -> None:
        super().__init__()
        self.genotype = genotype


class PlantedSpace(SearchSpace):
    """Two free edges (3 ops) and a node keeping 1 of 3 inputs (2 ops each): 3 * 3 * 3 * 2 = 54 genotypes."""

    name = "planted"

    def candidates(self) -> dict[str, tuple[str, ...]]:
        return {e: OPS3 if e in ("a", "b") else OPS2 for e in EDGES}

    def topology_groups(self) -> list[TopologyGroup]:
        return [GROUP]

    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        return nn.Identity()

    def genotype_from_state(self, state: ArchState) -> tuple[str, ...]:
        assert all(state.decided(e) or not state.active(e) for e in EDGES)
        return tuple(state.decided(e) if state.active(e) else "x" for e in EDGES)  # type: ignore[misc]

    def state_from_genotype(self, genotype: tuple[str, ...]) -> ArchState:
        state = self.new_state()
        for e, op in zip(EDGES, genotype):
            if op == "x":
                state.set_active(e, ())
            else:
                state.decide(e, op)
        return state

    def build_network(self, genotype: tuple[str, ...], cfg: NetConfig) -> nn.Module:
        return PlantedNet(genotype)

    def parse_genotype(self, text: str) -> tuple[str, ...]:
        ops = tuple(text.split("-"))
        cands = self.candidates()
        if len(ops) != len(EDGES) or any(o != "x" and o not in cands[e] for e, o in zip(EDGES, ops)) \
                or "x" in ops[:2] or sum(o != "x" for o in ops[2:]) != 1:
            raise GenotypeError(f"bad planted genotype {text!r}")
        return ops

    def format_genotype(self, genotype: tuple[str, ...]) -> str:
        return "-".join(genotype)


def value(genotype: tuple[str, ...]) -> float:
    return float(sum(VALUE[e][o] for e, o in zip(EDGES, genotype) if o != "x"))


class PlantedProxy(Proxy):
    """Scores a PlantedNet by the VALUE table (higher is better), ignoring the batch."""

    name = "planted"

    @contextmanager
    def _session(self, model: nn.Module):
        yield lambda inputs, targets: value(model.genotype)


ALL = ["-".join(g) for g in itertools.product(OPS3, OPS3, *[("noise", "signal", "x")] * 3)
       if sum(o != "x" for o in g[2:]) == 1]


@pytest.fixture
def planted(monkeypatch):
    """The planted space and proxy registered for one test."""
    monkeypatch.setitem(SPACES._items, "planted", PlantedSpace)
    monkeypatch.setitem(PROXIES._items, "planted", PlantedProxy)


@pytest.fixture
def table(tmp_path) -> Path:
    """A benchmark table of every planted genotype: accuracy 90 + its value."""
    path = tmp_path / "table.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "acc"])
        for g in ALL:
            w.writerow([g, 90 + value(tuple(g.split("-")))])
    return path


def cfg(**kw) -> SearchConfig:
    base = dict(space="planted", dataset="synthetic", batch_size=4, seed=1, channels_last=False)
    return search_config(**{**base, **kw}).validate()


def test_the_toy_space_is_what_the_tests_assume():
    space = PlantedSpace()
    listed = sorted(space.format_genotype(g) for g in space.enumerate_genotypes())
    assert space.size() == 54 == len(ALL) and listed == sorted(ALL)
    assert max(ALL, key=lambda g: value(tuple(g.split("-")))) == PLANTED


# ------------------------------------------------------------------ strategies find the planted best
@pytest.mark.parametrize("strategy, extra", [
    ("random", dict(proxy="planted", samples=120)),
    ("naswot", dict(proxy="planted", samples=120)),
    ("evolution", dict(proxy="planted", samples=60, population=6, sample_size=3)),
])
def test_sampling_strategies_find_the_planted_best_with_a_proxy(planted, tmp_path, strategy, extra):
    res = run_search(cfg(strategy=strategy, **extra), tmp_path / "run", progress=False)
    assert res["genotype"] == PLANTED and res["validation_score"] == 7.0 and res["fitness"] == "proxy:planted"
    rows = [json.loads(x) for x in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()]
    expected = extra["samples"] if strategy == "evolution" else res["unique_candidates"]
    assert len(rows) == res["evaluations"] == expected
    assert all(r["fitness"] == value(tuple(r["genotype"].split("-"))) for r in rows)


@pytest.mark.parametrize("strategy", ["random", "evolution"])
def test_random_and_evolution_use_the_table_without_a_proxy(planted, tmp_path, table, strategy):
    evolution = dict(population=6, sample_size=3) if strategy == "evolution" else {}
    res = run_search(cfg(strategy=strategy, benchmark_table=str(table), samples=80, **evolution),
                     tmp_path / "run", progress=False)
    assert res["fitness"] == "benchmark" and res["proxy"] is None
    assert res["genotype"] == PLANTED and res["benchmark"] == {"acc": 97.0} == res["sample_oracle"]


def test_evolution_is_regularised_evolution_by_hand(planted, tmp_path, table):
    """The journal equals Real et al.'s Algorithm 1 replayed here with the same generator."""
    from runtime import seeds
    from runtime.seeds import derive_seed
    from collections import deque
    res = run_search(cfg(strategy="evolution", benchmark_table=str(table), samples=30, population=5, sample_size=2),
                     tmp_path / "run", progress=False)
    space, rng = PlantedSpace(), np.random.default_rng(derive_seed(1, seeds.BASELINE_SAMPLE))
    pop, order = deque(), []
    for _ in range(5):
        g = space.format_genotype(space.sample(rng))
        pop.append(g), order.append(g)
    for _ in range(25):
        picks = sorted(rng.choice(len(pop), size=2, replace=False))
        fit = [value(tuple(pop[k].split("-"))) for k in picks]
        parent = pop[picks[int(np.argmax(fit))]]
        child = space.format_genotype(space.mutate(space.parse_genotype(parent), rng))
        pop.append(child), order.append(child)
        pop.popleft()
    rows = [json.loads(x) for x in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()]
    assert [r["genotype"] for r in rows] == order
    assert res["genotype"] == max(dict.fromkeys(order), key=lambda g: value(tuple(g.split("-"))))


def test_a_killed_evolution_resumes_to_the_same_end(planted, tmp_path):
    c = cfg(strategy="evolution", proxy="planted", samples=40, population=5, sample_size=2)
    full = run_search(c, tmp_path / "full", progress=False)
    part = tmp_path / "part"
    run_search(c, part, progress=False)
    lines = (part / "evaluations.jsonl").read_text().splitlines(keepends=True)
    (part / "evaluations.jsonl").write_text("".join(lines[:17]) + lines[17][:9])  # killed mid-line
    (part / "result.json").unlink()
    again = run_search(c, part, resume=True, progress=False)
    assert again["genotype"] == full["genotype"] and again["evaluations"] == 40
    assert [json.loads(x)["genotype"] for x in (part / "evaluations.jsonl").read_text().splitlines()] == \
        [json.loads(x)["genotype"] for x in (tmp_path / "full" / "evaluations.jsonl").read_text().splitlines()]


def tenas_rounds(run_dir: Path) -> list[dict]:
    """The rounds a tenas run journalled."""
    return [json.loads(x) for x in (run_dir / "tenas_rounds.jsonl").read_text().splitlines()]


def test_tenas_prunes_ops_then_inputs_by_the_rank_sum(planted, tmp_path, monkeypatch):
    """Scripted measures: kappa = 1 + active noise ops, R = 1 + weighted active signal edges. 'none' goes first
    (as the TE-NAS code); removing noise lowers kappa and keeps R, so every edge prunes noise; the node then
    keeps the input whose removal loses the most regions: n<-1 (weight 3), dropping n<-0 (1) and n<-2 (2)."""
    weight = {"a": 1, "b": 1, "n<-0": 1, "n<-1": 3, "n<-2": 2}

    @contextmanager
    def scripted(self, ctx):
        def measure(x):
            st = self.state
            kappa = 1.0 + sum("noise" in st.active(e) for e in EDGES)
            regions = 1.0 + sum(weight[e] for e in EDGES if "signal" in st.active(e))
            return TenasMeasure(kappa, regions)
        yield measure

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    monkeypatch.setattr(TenasPruning, "spaces", ("planted",))
    res = run_search(cfg(strategy="tenas"), tmp_path / "run", progress=False)
    assert res["genotype"] == "signal-signal-x-signal-x" and res["rounds"] == 2
    rounds = tenas_rounds(tmp_path / "run")
    assert [r["phase"] for r in rounds] == ["op", "topology"]
    assert rounds[0]["pairs"] == [[e, o] for e in EDGES for o in ("noise", "signal")]
    assert rounds[0]["pruned"] == [[e, "noise"] for e in EDGES]
    assert rounds[1]["pruned"] == [["n", "n<-0"], ["n", "n<-2"]]
    again = run_search(cfg(strategy="tenas"), tmp_path / "run", resume=True, progress=False)
    assert again["genotype"] == res["genotype"]


@pytest.mark.parametrize("field, value", [("supernet", {"channels": 16, "cells": 5}), ("pairs", [["a", "noise"]])])
def test_tenas_resume_refuses_rounds_of_another_supernet_or_pairs(planted, tmp_path, monkeypatch, capsys,
                                                                   field, value):
    """A journal row measured on another supernet (a run started before the supernet changed) or over other
    pairs is not replayed: one line naming the field and the fix; the untouched journal replays."""
    @contextmanager
    def scripted(self, ctx):
        yield lambda x: TenasMeasure(1.0 + sum("noise" in self.state.active(e) for e in EDGES), 1.0)

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    monkeypatch.setattr(TenasPruning, "spaces", ("planted",))
    run = tmp_path / "run"
    full = run_search(cfg(strategy="tenas"), run, progress=False)
    (run / "result.json").unlink()
    again = run_search(cfg(strategy="tenas"), run, resume=True, progress=False)
    assert again["genotype"] == full["genotype"] and tenas_rounds(run)[0]["supernet"] == full["supernet"]
    (run / "result.json").unlink()
    rows = tenas_rounds(run)
    rows[0][field] = value
    (run / "tenas_rounds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = opscore(["search", "--space", "planted", "--strategy", "tenas", "--dataset", "synthetic", "--batch-size",
                    "4", "--seed", "1", "--no-channels-last", "--out", str(run), "--resume", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and f"round 0 has another {field}" in err[0] and "delete" in err[0]


@pytest.mark.parametrize("prune_number, rounds", [(None, 3), (2, 2), (3, 1), (9, 1)])
def test_tenas_prunes_prune_number_ops_per_edge_per_round(tmp_path, monkeypatch, prune_number, rounds):
    """NB201 with a scripted kappa = 1 + the active ops that are not their edge's favourite (R fixed): every
    round prunes, on each edge, the `prune_number` earliest non-favourites (they tie), never the favourite and
    never the last op; TE-NAS's launcher default on NB201 is 1 (3 rounds of the 4 ops left after 'none')."""
    space = SPACES.get("nb201")()
    ops = [o for o in space.candidates()[space.new_state().edge_ids()[0]] if o != "none"]
    edges = space.new_state().edge_ids()
    favourite = {e: ops[(3 * k + 1) % len(ops)] for k, e in enumerate(edges)}

    @contextmanager
    def scripted(self, ctx):
        def measure(x):
            st = self.state
            return TenasMeasure(1.0 + sum(o != favourite[e] for e in edges for o in st.active(e)), 5.0)
        yield measure

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    c = search_config(strategy="tenas", space="nb201", dataset="synthetic", batch_size=4, channels=2, cells=1,
                     channels_last=False, prune_number=prune_number).validate()
    res = run_search(c, tmp_path / "run", progress=False)
    log = tenas_rounds(tmp_path / "run")
    assert res["rounds"] == len(log) == rounds and res["prune_number"] == (prune_number or 1)
    k = min(prune_number or 1, len(ops) - 1)
    assert log[0]["pruned"] == [[e, o] for e in edges for o in [o for o in ops if o != favourite[e]][:k]]
    decided = space.state_from_genotype(space.parse_genotype(res["genotype"]))
    assert {e: decided.decided(e) for e in edges} == favourite


def test_tenas_on_darts_prunes_three_ops_per_edge_by_default(tmp_path, monkeypatch):
    """TE-NAS's launcher prunes 3 ops per edge per round on DARTS CIFAR-10: 7 ops -> 4 -> 1, two op rounds,
    then one topology round per node with more than 2 inputs (3 per cell type)."""
    @contextmanager
    def scripted(self, ctx):
        yield lambda x: TenasMeasure(1.0 + sum(len(self.state.active(e)) for e in self.state.edge_ids()), 5.0)

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    c = search_config(strategy="tenas", space="darts", dataset="synthetic", batch_size=4, channels=2, cells=2,
                     channels_last=False).validate()
    res = run_search(c, tmp_path / "run", progress=False)
    log = tenas_rounds(tmp_path / "run")
    assert res["prune_number"] == 3 and [r["phase"] for r in log] == ["op", "op"] + ["topology"] * 6
    assert [len(r["pruned"]) for r in log[:2]] == [28 * 3, 28 * 3]


@pytest.mark.parametrize("space, size", [("nb201", {"channels": 3, "cells": 1, "affine_ops": True, "pool_bn": False}),
                                         ("darts", {"channels": 1, "cells": 2, "stem_multiplier": 1,
                                                    "reduce_cells": [1], "final_act": True, "affine_ops": True,
                                                    "pool_bn": False})])
def test_tenas_prunes_te_nas_small_supernet_by_default(tmp_path, monkeypatch, space, size):
    """Without --channels / --cells the pruned supernet has TE-NAS's size and layout (NB201 C=3, 1 cell per stage;
    DARTS C=1, a stem of C, a normal and a reduce cell, BN + ReLU head) and TE-NAS's ops (affine BN, DARTS's pools
    bare), and the linear regions are counted on a segment of --tenas-lr-length."""
    real = TenasPruning.measurer
    built = []

    @contextmanager
    def spy(self, ctx):
        built.append(self.supernet)
        with real(self, ctx):
            yield lambda x: TenasMeasure(1.0 + sum(len(self.state.active(e)) for e in self.state.edge_ids()), 5.0)

    monkeypatch.setattr(TenasPruning, "measurer", spy)
    import search.strategies.tenas_pruning as tenas_module
    made = []
    monkeypatch.setattr(tenas_module, "Tenas", lambda **kw: made.append(kw) or Tenas(**kw))
    c = search_config(strategy="tenas", space=space, dataset="synthetic", batch_size=4, channels_last=False,
                     tenas_lr_length=0.003).validate()
    res = run_search(c, tmp_path / "run", progress=False)
    assert res["supernet"] == size
    net = built[0]
    edge = next(m for m in net.modules() if isinstance(m, MixedOp))
    assert all(b.affine for op in edge.ops.values() for b in op.modules() if isinstance(b, nn.BatchNorm2d))
    if space == "darts":
        assert net.stem[0].out_channels == 1 and [c.reduction for c in net.cells] == [False, True]
        assert isinstance(net.lastact[0], nn.BatchNorm2d)
        assert not any(isinstance(b, nn.BatchNorm2d) for b in edge.ops["max_pool_3x3"].modules())
    assert made == [{"bn_mode": "batch", "lr_length": 0.003}] and res["lr_length"] == 0.003


def test_random_patches_are_windows_of_one_channel_of_the_images():
    """Every crop is a 3x3 window of one channel of an image of the data set; the seed fixes them; images are drawn
    without replacement while there are enough, with replacement otherwise; too small images are one error."""
    images = [(torch.arange(3 * 6 * 5, dtype=torch.float32).reshape(3, 6, 5) + 1000 * k, 0) for k in range(20)]
    crops = random_patches(images, 12, 3, seed=4)
    assert crops.shape == (12, 1, 3, 3) and torch.equal(crops, random_patches(images, 12, 3, seed=4))
    windows = {tuple(img[c, i:i + 3, j:j + 3].flatten().tolist()): k for k, (img, _) in enumerate(images)
               for c in range(3) for i in range(4) for j in range(3)}
    owners = [windows[tuple(p.flatten().tolist())] for p in crops]
    assert len(set(owners)) == 12  # 12 of 20 images: no image twice
    assert random_patches(images, 50, 3, seed=4).shape == (50, 1, 3, 3)  # more crops than images
    assert not torch.equal(crops, random_patches(images, 12, 3, seed=5))
    with pytest.raises(ValueError, match="smaller than the 7x7 crops"):
        random_patches(images, 2, 7, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_tenas_patches_count_regions_on_te_nas_thin_copy(tmp_path, monkeypatch, space):
    """--tenas-regions patches: R of every measure is TE-NAS's pattern count of 3 x 1,000 one-channel 3x3 crops
    through a thin copy (C=1, no stem; NB201 one cell, DARTS a normal and a reduce cell) that shares the arch
    state, so a removal changes it; the crops are the round's; kappa still comes from the pruned supernet."""
    real = TenasPruning.measurer
    seen = []

    @contextmanager
    def spy(self, ctx):
        with real(self, ctx) as measure:
            def checked(x):
                m = measure(x)
                assert len(self.patches) == 3 and all(p.shape == (1000, 1, 3, 3) for p in self.patches)
                assert m.regions == activation_patterns(self.thin, self.patches) and 1 < m.regions <= 3000
                seen.append(m.regions)
                return m

            def cheap(x):  # DARTS: 300 measures; the thin copy's count is checked once
                if not seen:
                    checked(x)
                return TenasMeasure(1.0, 5.0)
            yield checked if space == "nb201" else cheap

    monkeypatch.setattr(TenasPruning, "measurer", spy)
    c = search_config(strategy="tenas", space=space, dataset="synthetic", batch_size=4, channels_last=False,
                     tenas_regions="patches").validate()
    res = run_search(c, tmp_path / "run", progress=False)
    thin = {"nb201": {"channels": 1, "cells": 1, "depth": 1, "stem": False},
            "darts": {"channels": 1, "cells": 2, "stem_multiplier": 1, "reduce_cells": [1], "final_act": True,
                      "stem": False}}[space]
    assert res["regions"] == "patches" and res["supernet"]["thin"] == thin
    assert tenas_rounds(tmp_path / "run")[0]["supernet"] == res["supernet"]
    if space == "nb201":
        assert len(seen) == 24 + 18 + 12 and len(set(seen[:24])) > 1  # removals change R


@pytest.mark.slow
def test_tenas_repeat_reinitialises_the_thin_copy_too(tmp_path, monkeypatch):
    """With --tenas-repeat 2 and patches, each round measures the thin copy under two initialisations, the first
    its own as built (a re-seeded rebuild), so R is averaged over initialisations as kappa is."""
    inits = []

    @contextmanager
    def scripted(self, ctx):
        built = [p.detach().clone() for p in self.thin.parameters()]

        def measure(x):
            now = [p.detach().clone() for p in self.thin.parameters()]
            inits.append(0 if all(torch.equal(a, b) for a, b in zip(built, now)) else 1)
            return TenasMeasure(1.0 + sum(len(self.state.active(e)) for e in self.state.edge_ids()), 5.0)
        yield measure

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    c = search_config(strategy="tenas", space="nb201", dataset="synthetic", batch_size=4, channels_last=False,
                     tenas_regions="patches", tenas_repeat=2).validate()
    run_search(c, tmp_path / "run", progress=False)
    per_init = 1 + 24  # round 0: the unpruned supernet and 24 removals per initialisation
    assert inits[:2 * per_init] == [0] * per_init + [1] * per_init


def test_tenas_thin_copies_have_te_nas_layout():
    """The thin copies: no stem, C=1 input; NB201 keeps its first cell (then BN + ReLU head), DARTS a normal and a
    reduce cell of 1 channel; both take TE-NAS's one-channel 3x3 crops."""
    from search.strategies.tenas_pruning import TE_NAS_OPS, TE_NAS_THIN, TE_NAS_THIN_DARTS
    for name, layout in [("nb201", TE_NAS_THIN["nb201"]), ("darts", TE_NAS_THIN_DARTS)]:
        space = SPACES.get(name)()
        net = space.build_supernet(space.new_state(), NetConfig.from_dict(dict(stem=False, input_size=3, **layout, **TE_NAS_OPS)))
        assert isinstance(net.stem, nn.Identity)
        assert net(torch.randn(5, 1, 3, 3)).shape == (5, 10)
        if name == "nb201":
            assert len(net.cells) == 1 and net.classifier.in_features == 1
            with pytest.raises(ValueError, match="keeps at least 1 cell, got depth 0"):
                space.build_supernet(space.new_state(), NetConfig.from_dict(dict(stem=False, depth=0, **TE_NAS_OPS)))
        else:
            assert [c.reduction for c in net.cells] == [False, True] and net.classifier.in_features == 4 * 2


def test_tenas_repeat_ranks_kappa_and_regions_relative_to_each_initialisation(tmp_path, monkeypatch):
    """Scripted kappa = c * (1 + the active non-favourite ops), c a function of the supernet's current weights, so
    every initialisation scales kappa differently: with --tenas-repeat 3 the ratio to the unpruned supernet cancels
    c (round 0: 18 non-favourites, a non-favourite's removal gives 18/19, the favourite's 19/19), the pruning is
    that of K=1, and three initialisations are seen."""
    space = SPACES.get("nb201")()
    edges = space.new_state().edge_ids()
    ops = [o for o in space.candidates()[edges[0]] if o != "none"]
    favourite = {e: ops[k % len(ops)] for k, e in enumerate(edges)}
    scales = set()

    @contextmanager
    def scripted(self, ctx):
        first = next(self.supernet.parameters())

        def measure(x):
            c = 1.0 + float(first.detach().abs().sum())
            scales.add(round(c, 9))
            return TenasMeasure(c * (1 + sum(o != favourite[e] for e in edges for o in self.state.active(e))), 5.0)
        yield measure

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    results = {}
    for repeat in (1, 3):
        scales.clear()
        c = search_config(strategy="tenas", space="nb201", dataset="synthetic", batch_size=4, channels=2, cells=1,
                         channels_last=False, tenas_repeat=repeat).validate()
        results[repeat] = run_search(c, tmp_path / f"r{repeat}", progress=False)
        log = tenas_rounds(tmp_path / f"r{repeat}")
        assert len(scales) == repeat and results[repeat]["repeat"] == repeat
    assert sorted(set(round(v, 12) for v in log[0]["ntk_cond"])) == [round(18 / 19, 12), 1.0]
    assert results[1]["genotype"] == results[3]["genotype"]
    decided = space.state_from_genotype(space.parse_genotype(results[3]["genotype"]))
    assert {e: decided.decided(e) for e in edges} == favourite


def test_tenas_te_nas_ranks_measure_the_unpruned_supernet_and_rank_rounded_changes(tmp_path, monkeypatch):
    """--tenas-ranks te-nas at K=1: each op round also measures the unpruned supernet; kappa = 10 + the active
    non-favourite ops (round 0: 28), R constant. Removing a non-favourite changes kappa by 1/28 = 0.036 (dense rank
    1), a favourite by 0 (rank 2); every R change is 0 (rank 1): rank scores -2 and -3, and the favourites stay."""
    space = SPACES.get("nb201")()
    edges = space.new_state().edge_ids()
    ops = [o for o in space.candidates()[edges[0]] if o != "none"]
    favourite = {e: ops[k % len(ops)] for k, e in enumerate(edges)}
    calls = []

    @contextmanager
    def scripted(self, ctx):
        def measure(x):
            calls.append(1)
            return TenasMeasure(10.0 + sum(o != favourite[e] for e in edges for o in self.state.active(e)), 5.0)
        yield measure

    monkeypatch.setattr(TenasPruning, "measurer", scripted)
    c = search_config(strategy="tenas", space="nb201", dataset="synthetic", batch_size=4, channels=2, cells=1,
                     channels_last=False, tenas_ranks="te-nas").validate()
    res = run_search(c, tmp_path / "run", progress=False)
    first = tenas_rounds(tmp_path / "run")[0]
    assert first["ranks"] == [-3.0 if o == favourite[e] else -2.0 for e, o in first["pairs"]]
    assert first["ntk_cond"][0] == pytest.approx((27 if ops[0] != favourite[edges[0]] else 28) / 28)
    assert len(calls) == (1 + 24) + (1 + 18) + (1 + 12) and res["ranks"] == "te-nas"
    decided = space.state_from_genotype(space.parse_genotype(res["genotype"]))
    assert {e: decided.decided(e) for e in edges} == favourite


# ------------------------------------------------------------------ sampling is uniform
@pytest.mark.slow
def test_sampling_is_uniform_chi_square():
    space, rng = PlantedSpace(), np.random.default_rng(0)
    n = 54 * 100
    counts = {g: 0 for g in ALL}
    for _ in range(n):
        counts[space.format_genotype(space.sample(rng))] += 1
    assert stats.chisquare(list(counts.values())).pvalue > 0.01


def test_mutation_on_the_toy_reaches_every_single_decision_neighbour():
    space, rng = PlantedSpace(), np.random.default_rng(0)
    g = space.parse_genotype("signal-none-x-noise-x")
    # by hand: a 2 other ops, b 2 other ops, n<-1 1 other op, n<-1 swapped for n<-0 or n<-2 (keeping noise)
    expected = {"none-none-x-noise-x", "noise-none-x-noise-x", "signal-noise-x-noise-x", "signal-signal-x-noise-x",
                "signal-none-x-signal-x", "signal-none-noise-x-x", "signal-none-x-x-noise"}
    seen = {space.format_genotype(space.mutate(g, rng)) for _ in range(300)}
    assert seen == expected


# ------------------------------------------------------------------ the score cache
KEY = {"space": "nb201", "proxy": "nwot", "proxy_options": {"bn_mode": "batch"}, "network": {"channels": 16},
       "data": {"dataset": "imagefolder", "root": "/d", "batch_size": 64, "seed": 0}, "init_seed": 5}


def test_the_score_cache_returns_what_was_stored_and_any_key_change_invalidates_it(tmp_path):
    path = tmp_path / "cache.jsonl"
    c = ScoreCache(path, KEY)
    stored = {"g1": 1234.5678901234567, "g2": -math.inf, "g3": 0.1 + 0.2}
    for g, v in stored.items():
        c.put(g, v)
    back = ScoreCache(path, json.loads(json.dumps(KEY)))
    assert {g: back.get(g) for g in stored} == stored and back.get("g4") is None and back.hits == 3
    changed = [{**KEY, "space": "darts"}, {**KEY, "proxy": "synflow"}, {**KEY, "proxy_options": {"bn_mode": "eval"}},
               {**KEY, "network": {"channels": 8}}, {**KEY, "init_seed": 6}]
    changed += [{**KEY, "data": {**KEY["data"], k: v}} for k, v in
                (("dataset", "cifar10"), ("root", "/e"), ("batch_size", 32), ("seed", 1))]
    for key in changed:
        assert ScoreCache(path, key).get("g1") is None, key
    ScoreCache(path, changed[0]).put("g1", 7.0)  # another key's entry leaves this key's alone
    assert ScoreCache(path, KEY).get("g1") == stored["g1"]
    with open(path, "a") as f:
        f.write('{"key": "torn')  # a killed writer
    again = ScoreCache(path, KEY)
    again.put("g5", 2.0)
    assert ScoreCache(path, KEY).get("g5") == 2.0


@pytest.mark.slow
def test_naswot_reuses_the_cache_across_runs_and_a_changed_key_rescores(tmp_path):
    base = dict(strategy="naswot", space="nb201", dataset="synthetic", val_channels=4, val_cells=1, batch_size=8,
                samples=4, score_cache=str(tmp_path / "scores.jsonl"), channels_last=False)
    first = run_search(search_config(**base, seed=0), tmp_path / "r0", progress=False)
    again = run_search(search_config(**base, seed=0), tmp_path / "r0b", progress=False)
    assert first["cache_hits"] == 0 and again["cache_hits"] == again["evaluations"] == first["evaluations"]
    assert again["genotype"] == first["genotype"] and again["validation_score"] == first["validation_score"]
    other = run_search(search_config(**{**base, "batch_size": 6}, seed=0), tmp_path / "r1", progress=False)
    assert other["cache_hits"] == 0


# ------------------------------------------------------------------ opscore report
def make_run(root: Path, name: str, settings: dict, result: dict) -> Path:
    d = root / name
    d.mkdir()
    (d / "config.yaml").write_text(yaml.safe_dump(settings))
    (d / "result.json").write_text(json.dumps(result))
    return d


@pytest.mark.slow
def test_report_groups_by_differing_settings_with_hand_computed_mean_and_std(tmp_path):
    runs = []
    for seed, acc, sec in ((0, 93.0, 10.0), (1, 94.0, 20.0), (2, 95.0, 30.0)):
        runs.append(make_run(tmp_path, f"r{seed}", {"strategy": "random", "seed": seed, "out": f"r{seed}",
                                                     "samples": 100},
                             {"benchmark": {"acc": acc}, "seconds": sec, "unique_candidates": 100}))
    for seed, acc in ((0, 90.0), (1, 92.0)):
        runs.append(make_run(tmp_path, f"e{seed}", {"strategy": "evolution", "seed": seed, "out": "x", "samples": 100},
                             {"benchmark": {"acc": acc}, "seconds": 1.0, "unique_candidates": 50 + seed}))
    assert opscore(["report", *map(str, runs), "--out", str(tmp_path / "rep")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "rep" / "report.csv")))
    assert [r["strategy"] for r in rows] == ["random", "evolution"] and [r["runs"] for r in rows] == ["3", "2"]
    assert float(rows[0]["benchmark.acc_mean"]) == 94.0 and float(rows[0]["benchmark.acc_std"]) == 1.0
    assert float(rows[0]["seconds_mean"]) == 20.0 and float(rows[0]["seconds_std"]) == 10.0
    assert float(rows[1]["benchmark.acc_mean"]) == 91.0
    assert float(rows[1]["benchmark.acc_std"]) == pytest.approx(math.sqrt(2.0))
    assert float(rows[1]["unique_candidates_mean"]) == 50.5
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| random | 3 | 94.00 ± 1.00 | 20.00 ± 10.00 | 100.00 ± 0.00 |" in md
    assert (tmp_path / "rep" / "report.png").stat().st_size > 0


def test_report_takes_a_missing_setting_at_its_default_and_groups_across_proposal_sources(tmp_path):
    default = search_config(strategy="evolution", proxy="nwot").population
    result = {"benchmark": {"acc": 90.0}, "seconds": 1.0, "unique_candidates": 3}
    runs = [make_run(tmp_path, "old", {"strategy": "zcpt", "seed": 0}, result),  # written before `population`
            make_run(tmp_path, "new", {"strategy": "zcpt", "seed": 1, "population": default,
                                       "proposals_from": "runs/s1"}, {**result, "benchmark": {"acc": 92.0}}),
            make_run(tmp_path, "new2", {"strategy": "zcpt", "seed": 2, "population": default,
                                        "proposals_from": "runs/s2"}, {**result, "benchmark": {"acc": 94.0}}),
            make_run(tmp_path, "other", {"strategy": "zcpt", "seed": 0, "population": default + 1}, result)]
    assert opscore(["report", *map(str, runs), "--out", str(tmp_path / "rep")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "rep" / "report.csv")))
    assert [(r["population"], r["runs"], float(r["benchmark.acc_mean"])) for r in rows] == \
        [(str(default), "3", 92.0), (str(default + 1), "1", 90.0)]
    assert "proposals_from" not in rows[0]


def test_report_groups_one_data_folder_however_it_was_spelled(tmp_path, monkeypatch):
    """A run folder of an earlier version holds `data_root` as given; the same folder recorded absolute is one
    group with it, another folder another group."""
    monkeypatch.chdir(tmp_path)
    result = {"benchmark": {"acc": 90.0}, "seconds": 1.0, "unique_candidates": 3}
    runs = [make_run(tmp_path, "old", {"seed": 0, "data_root": "imgs"}, result),
            make_run(tmp_path, "new", {"seed": 1, "data_root": str(tmp_path / "imgs")}, result),
            make_run(tmp_path, "elsewhere", {"seed": 0, "data_root": str(tmp_path / "other")}, result)]
    assert opscore(["report", *map(str, runs), "--out", str(tmp_path / "rep")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "rep" / "report.csv")))
    assert [(r["data_root"], r["runs"]) for r in rows] == [(str(tmp_path / "imgs"), "2"), (str(tmp_path / "other"), "1")]


def test_report_of_an_unfinished_run_is_one_line(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert opscore(["report", str(tmp_path / "half"), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert "has no result.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ bad input: one line, exit 2
@pytest.mark.parametrize("flag, choices", [("--tenas-regions", "'segment', 'patches'"),
                                           ("--tenas-ranks", "'average', 'te-nas'")])
def test_an_unknown_tenas_choice_is_one_error_naming_the_choices(capsys, flag, choices):
    with pytest.raises(SystemExit) as exit_:
        opscore(["search", "--strategy", "tenas", flag, "cubes", "--dataset", "synthetic"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert flag in err.strip().splitlines()[-1] and choices in err.strip().splitlines()[-1]


@pytest.mark.parametrize("flag, value", [("--tenas-repeat", "x"), ("--prune-number", "2.5"),
                                         ("--tenas-lr-length", "short")])
def test_a_tenas_setting_of_the_wrong_type_is_argparse_usage_and_one_error(capsys, flag, value):
    with pytest.raises(SystemExit) as exit_:
        opscore(["search", "--strategy", "tenas", flag, value, "--dataset", "synthetic"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith(f"argument {flag}: invalid {'float' if 'length' in flag else 'int'} "
                                                 f"value: '{value}'")


@pytest.mark.parametrize("flags, message", [
    (["--strategy", "random"], "needs a fitness: give --proxy NAME"),
    (["--strategy", "evolution"], "needs a fitness: give --proxy NAME"),
    (["--strategy", "naswot", "--samples", "0"], "samples must be at least 1, got 0 (command line)"),
    (["--strategy", "tenas", "--space", "nb-macro"], "--strategy tenas supports the spaces"),
    (["--strategy", "tenas", "--tenas-lr-length", "0"], "--tenas-lr-length must be in (0, 1]"),
    (["--strategy", "tenas", "--prune-number", "0"], "prune_number must be at least 1, got 0"),
    (["--strategy", "tenas", "--tenas-repeat", "0"], "tenas_repeat must be at least 1, got 0"),
    (["--strategy", "evolution", "--proxy", "nwot", "--population", "4", "--sample-size", "5"],
     "--sample-size <= --population <= --samples"),
])
def test_bad_baseline_input_is_one_line(tmp_path, capsys, flags, message):
    assert opscore(["search", *flags, "--dataset", "synthetic", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
