"""Contract tests of everything registered (timm-style): each family is parametrised over its registry's
`names()`, so a space, mixing rule, order, scorer, search strategy, supernet-training method, TSE estimator,
schedule or recipe registered later is tested here with no new test code. Each case runs a tiny real instance and
checks its behaviour against expectations computed here, not only that it runs.

Adding a family: add it to REGISTRIES (name and duplicate checks for free) and write one
`test_every_<thing>` parametrised over `<REGISTRY>.names()`.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from scoring.proxies import PROXIES, get_proxy
from scoring.scorers import SCORERS, ScoringContext
from scoring.tse import TSE_ESTIMATORS, TSERecorder
from search.batches import BatchStream
from search.plugins import search_config
from search.factory import scoring_settings
from search.orders import ORDERS
from search.search_run import run_search
from search.strategies import STRATEGIES
from search.supernet_train.architects import ARCHITECTS
from search.supernet_train.config import SupernetTrainConfig
from search.supernet_train.loading import load_for_search
from search.supernet_train.supernet_run import train_supernet
from search.proposals import DecisionLog, propose
from supernet.arch_state import ArchState
from supernet.mixed_op import MixedOp
from supernet.mixing import MIXING
from supernet.registry import Registry, UnknownNameError, UnknownOptionError
from supernet.spaces import SPACES
from supernet.spaces.space import NetConfig, SearchSpace
from train_final.recipe import Recipe, load_recipe, recipe_names
from train_final.train_run import train
from train_final.schedules import SCHEDULES, build_optimizer

from test_orders import ScriptedControl, random_table
from test_supernet_train_toy import ToyData, ToySpace, toy_space_registered  # noqa: F401  (fixture)

REGISTRIES: dict[str, Registry] = {"space": SPACES, "mixing": MIXING, "proxy": PROXIES, "scorer": SCORERS,
                                   "order": ORDERS, "method": ARCHITECTS, "tse": TSE_ESTIMATORS,
                                   "schedule": SCHEDULES, "strategy": STRATEGIES}
EVERY_NAME = [(kind, name) for kind, reg in REGISTRIES.items() for name in reg.names()]


# ------------------------------------------------------------------------- the registry itself
@pytest.mark.parametrize("kind, name", EVERY_NAME, ids=[f"{k}:{n}" for k, n in EVERY_NAME])
def test_registered_object_carries_its_registration_name(kind, name):
    assert REGISTRIES[kind].get(name).name == name


def test_register_refuses_duplicates_and_names_the_object():
    reg: Registry = Registry("thing")

    @reg.register("a")
    class A:
        def __init__(self, size: int = 1) -> None:
            self.size = size

    @reg.register("f")
    def f(x: int, *, y: int = 2) -> int:
        return x + y

    assert (A.name, f.name) == ("a", "f") and reg.names() == ["a", "f"]
    with pytest.raises(ValueError, match="thing 'a' is already registered"):
        reg.register("a")(type("B", (), {}))
    assert reg.get("a") is A  # the refused duplicate replaced nothing


def test_create_checks_options_against_the_signature():
    reg: Registry = Registry("thing")

    @reg.register("a")
    class A:
        def __init__(self, size: int = 1) -> None:
            self.size = size

    @reg.register("bare")
    class Bare:
        pass

    @reg.register("open")
    def open_(**kw: int) -> dict:
        return kw

    assert reg.create("a", size=3).size == 3 and reg.create("a").size == 1 and reg.options("a") == ("size",)
    assert isinstance(reg.create("bare"), Bare)
    assert reg.create("open", anything=1) == {"anything": 1}  # **kwargs takes any option
    with pytest.raises(UnknownOptionError) as e:
        reg.create("a", colour="red")
    assert str(e.value) == "thing 'a' has no option 'colour'; its options: size"
    with pytest.raises(UnknownNameError, match="^thing 'bare' has no options 'x', 'y'; its options: none$"):
        reg.create("bare", x=1, y=2)
    with pytest.raises(UnknownNameError, match="unknown thing 'c'; choose one of: a, bare, open"):
        reg.create("c")
    msg = str(pytest.raises(UnknownOptionError, SPACES.create, "nb201", include_none=True).value)
    assert msg == "space 'nb201' has no option 'include_none'; its options: none" and "\n" not in msg


# ------------------------------------------------------------------------------------ spaces
TINY_NET = NetConfig(channels=2, cells=1, num_classes=3)


def tiny_batch(n: int = 2, size: int = 8) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def decide_all(space: SearchSpace, state: ArchState, rng: np.random.Generator) -> None:
    """One seeded op per edge, then topology: each group keeps its last `keep` edges (as a search leaves it)."""
    for e in state.edge_ids():
        cands = state.candidates(e)
        state.decide(e, cands[int(rng.integers(len(cands)))])
    for g in space.topology_groups():
        for e in g.edges[:-g.keep]:
            state.set_active(e, [])


def decided_genotype(space: SearchSpace, seed: int = 0):
    state = space.new_state()
    decide_all(space, state, np.random.default_rng(seed))
    return space.genotype_from_state(state)


@pytest.mark.parametrize("name", SPACES.names())
def test_every_space(name):
    space = SPACES.create(name)
    cands = space.candidates()
    state = space.new_state()
    # the fresh state is A_0: every candidate active on every edge, edges in the space's order
    assert state.edge_ids() == list(cands)
    assert all(state.candidates(e) == tuple(cands[e]) == state.active(e) for e in cands)
    assert all(len(ops) >= 1 for ops in cands.values()) and state.undecided() == list(cands)
    for g in space.topology_groups():
        assert set(g.edges) <= set(cands) and 1 <= g.keep < len(g.edges)
    with pytest.raises(ValueError, match="not decided"):
        space.genotype_from_state(state)

    # the supernet runs on a tiny batch and reads the state on every forward
    torch.manual_seed(0)
    net = space.build_supernet(state, TINY_NET).eval()
    x = tiny_batch()
    with torch.no_grad():
        y0 = net(x)
        assert y0.shape == (2, 3) and torch.isfinite(y0).all()
        decide_all(space, state, np.random.default_rng(1))
        y1 = net(x)
    assert y1.shape == (2, 3) and not torch.allclose(y0, y1)

    # the decided genotype round-trips through text and JSON, and records each decision
    g = space.genotype_from_state(state)
    text = space.format_genotype(g)
    assert space.parse_genotype(text) == g and space.format_genotype(space.parse_genotype(text)) == text
    data = json.loads(json.dumps(space.genotype_to_json(g)))
    assert space.genotype_from_json(data) == g
    kept = [e for e in state.edge_ids() if state.active(e) and len(cands[e]) > 1][-1]
    other = next(o for o in cands[kept] if o != state.decided(kept))
    changed = state.snapshot()
    changed[kept] = {"active": [other], "decided": other}
    state.restore(changed)
    assert space.format_genotype(space.genotype_from_state(state)) != text  # another op, another genotype

    # the stand-alone network builds and runs
    torch.manual_seed(0)
    standalone = space.build_network(g, TINY_NET).train()
    out = standalone(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()


@pytest.mark.slow_params('darts', 'mobilenet')
@pytest.mark.parametrize("name", SPACES.names())
def test_every_space_trains_on_channels_last_with_few_channels(name):
    """Searches and TE-NAS run channels-last on the CPU, down to 1-2 channel supernets: the gradients of the supernet
    and of a stand-alone network equal the contiguous ones (float64). (torch 2.14's CPU weight gradient of a stride-2
    1x1 conv with fewer than 8 channels in channels-last corrupts the heap, which crashes only sometimes; the DARTS
    and NB-Macro tests that caught it use the shapes where it did.)"""
    space = SPACES.create(name)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.manual_seed(0)
    nets = [space.build_supernet(space.new_state(), TINY_NET).double(),
            space.build_network(decided_genotype(space), TINY_NET).double()]  # BN at 2 channels amplifies rounding
    for net in nets:
        grads = []
        for mem in (torch.contiguous_format, torch.channels_last):
            net = net.to(memory_format=mem).train()
            params = [p for p in net.parameters() if p.requires_grad]
            torch.manual_seed(1)  # the same draws for spaces with random ops (S4's noise)
            out = net(x.to(memory_format=mem))
            grads.append(torch.autograd.grad(out.logsumexp(1).sum(), params, allow_unused=True))
        scale = max(float(a.abs().max()) for a in grads[0] if a is not None)
        for a, b in zip(*grads):
            assert (a is None) == (b is None)
            if a is not None:
                assert torch.allclose(a, b, rtol=1e-6, atol=1e-9 * scale)


# ------------------------------------------------------------------------------- mixing rules
CANDS = ("a", "b", "c", "d")
ALPHA = torch.tensor([0.3, -0.5, 1.2, 0.0])
UNNORMALISED = {"sum"}  # the only rule whose weights need not sum to 1


def mean_weights(rule, active, draws: int) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.stack([torch.as_tensor(rule(ALPHA, CANDS, active), dtype=torch.float64)
                        for _ in range(draws)]).mean(0)


class Scale(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * x


@pytest.mark.slow_params('dirichlet')
@pytest.mark.parametrize("name", MIXING.names())
def test_every_mixing_rule(name):
    rule = MIXING.get(name)
    full = [float(w) for w in rule(ALPHA, CANDS, CANDS)]
    assert len(full) == len(CANDS) and all(w >= 0 and math.isfinite(w) for w in full)
    if name not in UNNORMALISED:
        assert sum(full) == pytest.approx(1.0, abs=1e-6)
    stochastic = [float(w) for w in rule(ALPHA, CANDS, CANDS)] != full
    draws = 4000 if stochastic else 1
    # perturbing b removes exactly b's weight: the others keep their proportions (in expectation if sampled)
    active = ("a", "c", "d")
    before, after = mean_weights(rule, CANDS, draws), mean_weights(rule, active, draws)
    assert after.shape == (3,) and (after >= 0).all()
    ratio = after / before[[0, 2, 3]]
    assert torch.allclose(ratio, ratio[0].expand(3), rtol=0.1 if stochastic else 1e-6)
    # the mixed op computes exactly sum_o w_o op_o(x) with the rule's weights
    state = ArchState.from_candidates({"e": CANDS})
    state.remove("e", "b")
    mixed = MixedOp("e", {o: Scale(k) for o, k in zip(CANDS, (1.0, 10.0, 100.0, 1000.0))}, state, name,
                    {"e": ALPHA})
    x = torch.ones(1)
    torch.manual_seed(3)
    w = [float(v) for v in rule(ALPHA, CANDS, active)]
    torch.manual_seed(3)
    assert float(mixed(x)) == pytest.approx(w[0] * 1 + w[1] * 100 + w[2] * 1000, rel=1e-6)


# ------------------------------------------------------------------------------- edge orders
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", ORDERS.names())
def test_every_order(name, seed):
    """Decides every edge exactly once with one of its ops, at its declared Table 5 cost."""
    rng = np.random.default_rng(100 + seed)
    ops = {f"e{k}": tuple(f"o{i}" for i in range(int(rng.integers(2, 7)))) for k in range(7)}
    ctl = ScriptedControl(ops, random_table(seed))
    ORDERS.create(name, rng=np.random.default_rng(seed)).run(ctl)
    edges = [e for e, _ in ctl.sequence]
    assert sorted(edges) == sorted(ops) and len(edges) == len(ops)
    assert all(op in ops[e] for e, op in ctl.sequence)
    sizes = [len(ops[e]) for e in edges]  # in decision order
    assert ctl.evaluations == ORDERS.get(name).evaluations(sizes)
    assert sum(sizes) <= ctl.evaluations <= len(sizes) * sum(sizes)  # at least one pass, at most one per step


# ------------------------------------------------ supernet-training methods and the scorers on them
TOY_DATA = 96


def model_state(model: nn.Module) -> tuple[dict, list[bool], list[bool]]:
    """Weights, buffers, train/eval modes and requires_grad: what a scorer session must restore."""
    return ({k: v.clone() for k, v in model.state_dict().items()}, [m.training for m in model.modules()],
            [p.requires_grad for p in model.parameters()])


def assert_same_state(before: tuple, after: tuple) -> None:
    assert before[0].keys() == after[0].keys()
    assert all(torch.equal(v, after[0][k]) for k, v in before[0].items())
    assert before[1:] == after[1:]


@pytest.fixture(scope="module", params=ARCHITECTS.names())
def toy_supernet(request, tmp_path_factory):
    """One epoch of each method on the planted toy: alphas start at 0 and are updated at every step (K=1)."""
    out = tmp_path_factory.mktemp(request.param) / "sn"
    cfg = SupernetTrainConfig(space="toy", method=request.param, epochs=1, batch_size=16, seed=0, lr=0.1,
                              arch_lr=0.05, alpha_init_std=0.0, tse_steps=1, eval_batches=1, channels_last=False)
    result = train_supernet(cfg, out, progress=False, space=ToySpace(), dataset=ToyData(TOY_DATA, seed=1))
    return request.param, out, result


def test_every_supernet_training_method(toy_supernet):
    method, out, result = toy_supernet
    ckpt = torch.load(out / "supernet.pt", weights_only=False)
    arch = ARCHITECTS.get(method)
    row = json.loads((out / "history.jsonl").read_text().splitlines()[-1])
    steps = (TOY_DATA // 2) // 16  # half the data trains the weights (train_portion 0.5), full batches only
    assert ckpt["method"] == method and (ckpt["mixing"], ckpt["eval_mixing"]) == (arch.mixing, arch.eval_mixing)
    assert row["steps"] == steps and row["arch_updates"] == steps  # one alpha update per weight step
    alphas = torch.stack(list(ckpt["alphas"].values()))
    assert torch.isfinite(alphas).all() and alphas.abs().max() > 1e-3  # they moved from 0
    assert math.isfinite(row["train_loss"]) and 0.0 <= row["eval_acc"] <= 1.0
    genotype = ToySpace().parse_genotype(result["genotype"])
    weights = row["weights"]
    assert genotype == tuple(max(weights[e], key=weights[e].get) for e in ("e1", "e2"))  # argmax of eval mixing


@pytest.mark.parametrize("scorer", SCORERS.names())
def test_every_scorer(scorer, toy_supernet, toy_space_registered):
    """On each method's toy supernet: a score per active op, decisions that follow the scorer's direction,
    the same scores on a repeat, and the supernet and arch state left as they were."""
    _, out, _ = toy_supernet
    space, data = ToySpace(), ToyData(TOY_DATA, seed=1)

    def run() -> tuple[list[dict], str, dict, str]:
        cfg = search_config(space="toy", scorer=scorer, supernet=str(out / "supernet.pt"), batch_size=16,
                           channels_last=False, **{"darts-pt": dict(tune_epochs=0.25, accuracy_batches=1),
                                                   "disc-acc": dict(tune_epochs=0.25, disc_tune_epochs=0.25,
                                                                    accuracy_batches=1)}.get(scorer, {}))
        settings = scoring_settings(cfg)
        loaded = load_for_search(settings.supernet, space, torch.device("cpu"), 2, dataset=data)
        state, model = loaded.state, loaded.supernet
        sc = SCORERS.create(scorer, ctx=ScoringContext(space, model, state, get_proxy("grad_norm"),
                                                       trained=loaded.tuner), **settings.scorer_options)
        a0, before = state.snapshot(), model_state(model)
        log = DecisionLog()
        torch.manual_seed(0)
        with sc.session():
            p = propose(space, sc, state, a0, "fixed", BatchStream(data, 16, seed=0), 0, 0, log)
        assert state.snapshot() == a0
        assert_same_state(before, model_state(model))
        return log.rows, p.genotype, a0, sc.direction

    rows, genotype, a0, direction = run()
    pick = max if direction == "max" else min
    assert [r["edge"] for r in rows] == ["e1", "e2"]
    for r in rows:  # fixed order: each edge is scored with all its ops active
        assert list(r["scores"]) == a0[r["edge"]]["active"]
        assert all(math.isfinite(v) for v in r["scores"].values())
        assert r["choice"] == pick(r["scores"], key=r["scores"].get)
    assert genotype == "-".join(r["choice"] for r in rows)
    again = run()[0]
    assert [r["scores"] for r in again] == [r["scores"] for r in rows]


# ------------------------------------------------------------------------------ TSE estimators
EPOCHS = ([3.0, 1.0], [2.0, 2.0, 2.0], [1.0, 0.0])  # minibatch losses of 3 epochs: L = 2, 2, 0.5


@pytest.mark.parametrize("name", TSE_ESTIMATORS.names())
def test_every_tse_estimator(name):
    """An estimator is a fixed non-negative weighting of the epoch losses L_t, recent epochs weighted
    at least as much as earlier ones, the last one positively; the recorder feeds it the epoch means."""
    rec = TSERecorder()
    for epoch in EPOCHS:
        rec.start_epoch()
        for loss in epoch:
            rec.record(loss)
    L = rec.epoch_losses()
    assert L == [2.0, 2.0, 0.5]

    def est(losses) -> float:
        return TSE_ESTIMATORS.create(name, epoch_losses=list(losses))

    weights = [est(np.eye(3)[t]) for t in range(3)]
    assert all(w >= 0 for w in weights) and weights[-1] > 0 and weights == sorted(weights)
    assert rec.estimate(name) == est(L) == pytest.approx(sum(w * l for w, l in zip(weights, L)))
    assert est([x + 1.0 for x in L]) > est(L)  # lower loss, lower (better) estimate


# ----------------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule(name):
    """Starts at the recipe's lr, never rises, stays positive, and resumes exactly from its state."""
    recipe = Recipe(epochs=6, lr=0.1, lr_min=0.001, lr_gamma=0.9, schedule=name, weight_decay=0.0)

    def lrs(resume_at: int | None = None) -> list[float]:
        """The lr of every epoch; at `resume_at`, optimiser and schedule are rebuilt from their states (as
        train_final resumes)."""
        opt = build_optimizer(nn.Linear(2, 2), recipe)
        sched = SCHEDULES.create(name, opt=opt, recipe=recipe)
        seen = []
        for epoch in range(recipe.epochs):
            if epoch == resume_at:
                states = opt.state_dict(), sched.state_dict()
                opt = build_optimizer(nn.Linear(2, 2), recipe)
                sched = SCHEDULES.create(name, opt=opt, recipe=recipe)
                opt.load_state_dict(states[0])
                sched.load_state_dict(states[1])
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return seen

    seen = lrs()
    assert seen[0] == pytest.approx(recipe.effective_lr)
    assert all(0 < b <= a + 1e-12 for a, b in zip(seen, seen[1:]))
    assert lrs(resume_at=3) == pytest.approx(seen, rel=1e-12)


# ------------------------------------------------------------------------------------- recipes
def recipe_space(recipe: str) -> str:
    """Recipes are named <dataset>-<space>: the longest registered space name the recipe ends with."""
    spaces = [s for s in SPACES.names() if recipe.endswith("-" + s)]
    assert spaces, f"recipe {recipe!r} does not end with a registered space name"
    return max(spaces, key=len)


@pytest.mark.slow_params('imagenet-darts', 'imagenet-mobilenet')
@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe(name, tmp_path):
    """One synthetic epoch of each recipe at tiny width (its image size, schedule, auxiliary head, drop-path,
    label smoothing kept), on a genotype of the recipe's space."""
    space = recipe_space(name)
    sp = SPACES.create(space)
    text = sp.format_genotype(decided_genotype(sp))
    tiny = {"space": space, "genotype": text, "dataset": "synthetic", "synthetic_size": 4, "epochs": 1,
            "batch_size": 2, "channels": 4, "cells": 3, "workers": 0, "device": "cpu", "eval_batch_size": 4}
    published = load_recipe(name)
    r = load_recipe(name, tiny)
    res = train(r, tmp_path / "run", progress=False)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert res["recipe"] == name and res["space"] == space and res["genotype"] == text and res["epochs"] == 1
    assert (res["image_size"], r.schedule) == (published.image_size, published.schedule)
    assert row["lr"] == pytest.approx(r.effective_lr) and math.isfinite(row["train_loss"])
    assert 0.0 <= res["test_top1"] <= res["test_top5"] <= 100.0 and res["params"] > 0


# ------------------------------------------------------------------------- sampling and mutation
def _decisions(space: SearchSpace, genotype) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """(op of every kept edge, kept inputs of every topology group) of a genotype."""
    state = space.state_from_genotype(genotype)
    ops = {e: state.decided(e) for e in state.edge_ids() if state.active(e)}
    assert all(state.active(e) == (op,) for e, op in ops.items())
    return ops, {g.node: frozenset(e for e in g.edges if state.active(e)) for g in space.topology_groups()}


@pytest.mark.parametrize("name", SPACES.names())
def test_every_space_samples_and_mutates_one_decision(name):
    """sample() gives valid genotypes that round-trip through state_from_genotype; mutate() changes exactly one
    decision (one kept edge's op, or one kept input of one node swapped for another) and stays valid."""
    space = SPACES.create(name)
    rng = np.random.default_rng(0)
    for _ in range(10):
        g = space.sample(rng)
        text = space.format_genotype(g)
        assert space.format_genotype(space.parse_genotype(text)) == text
        assert space.format_genotype(space.genotype_from_state(space.state_from_genotype(g))) == text
        ops, kept = _decisions(space, g)
        for g_ in kept:
            assert len(kept[g_]) == next(t.keep for t in space.topology_groups() if t.node == g_)
        child = space.mutate(g, rng)
        ctext = space.format_genotype(child)
        assert ctext != text and space.format_genotype(space.parse_genotype(ctext)) == ctext
        cops, ckept = _decisions(space, child)
        swapped = [n for n in kept if kept[n] != ckept[n]]
        if not swapped:  # an op change on one edge
            assert ops.keys() == cops.keys() and sum(ops[e] != cops[e] for e in ops) == 1
        else:  # one input of one node swapped; every other kept edge keeps its op
            (node,) = swapped
            assert len(kept[node] - ckept[node]) == 1 == len(ckept[node] - kept[node])
            assert all(ops[e] == cops[e] for e in ops.keys() & cops.keys())


# ------------------------------------------------------------------------- search strategies
@pytest.mark.slow_params('tenas', 'zcpt')
@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_every_strategy(strategy, tmp_path):
    """A tiny search of each strategy: result.json holds the common keys, the winner is a valid genotype of
    the space, and a finished run folder resumed gives the same result."""
    budget = dict(iterations=2, validation_batches=2, samples=3, population=2, sample_size=2)  # tiny, where taken
    cfg = search_config(strategy=strategy, space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4,
                        val_cells=1, batch_size=8, seed=3, proxy="nwot",
                        **{k: v for k, v in budget.items() if k in STRATEGIES.options(strategy)})
    res = run_search(cfg, tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved == json.loads(json.dumps(res))
    assert saved["strategy"] == strategy and saved["space"] == "nb201" and saved["seed"] == 3
    assert saved["seconds"] > 0 and saved["unique_candidates"] >= 1
    space = SPACES.create("nb201")
    assert space.format_genotype(space.parse_genotype(saved["genotype"])) == saved["genotype"]
    assert saved["genotype_json"] == space.genotype_to_json(space.parse_genotype(saved["genotype"]))
    again = run_search(cfg, tmp_path / "run", resume=True, progress=False)
    assert again["genotype"] == res["genotype"] and again["validation_score"] == res["validation_score"]
