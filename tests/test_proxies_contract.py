"""Contract of every registered proxy (parametrised over PROXIES, so a new proxy is tested for free):
finite and deterministic on a tiny NB201 supernet in an edited state and on a stand-alone network,
usable by zc-pt and disc-zc, removed ops and 'none' never executed, and the model left bit-identical
(parameters, buffers, dtypes, .grad, train/eval modes, requires_grad, hooks)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from scoring.proxies import PROXIES, get_proxy
from scoring.scorers import SCORERS, ScoringContext
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig

TINY = NetConfig(channels=4, cells=1, num_classes=5)
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def batch(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 5, (n,), generator=g)


def fingerprint(model: nn.Module) -> dict:
    """Everything a proxy must leave as it was."""
    return {
        "tensors": {k: (v.dtype, v.clone()) for k, v in model.state_dict(keep_vars=False).items()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "modes": [m.training for m in model.modules()],
        "bn_flags": [getattr(m, "track_running_stats", None) for m in model.modules()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
                  for m in model.modules()],
        "patched": [name for name, m in model.named_modules() if "forward" in m.__dict__],
    }


def assert_same(before: dict, after: dict) -> None:
    assert before["tensors"].keys() == after["tensors"].keys()
    for k, (dtype, v) in before["tensors"].items():
        assert after["tensors"][k][0] == dtype and torch.equal(after["tensors"][k][1], v), k
    for k, g in before["grads"].items():
        h = after["grads"][k]
        assert (g is None and h is None) or (g is not None and h is not None and torch.equal(g, h)), k
    for key in ("requires_grad", "modes", "bn_flags", "hooks", "patched"):
        assert before[key] == after[key], key


def dirty(model: nn.Module) -> None:
    """A model as a caller may hand it over: train mode with one eval submodule, one frozen weight, a stale grad."""
    model.train()
    params = list(model.parameters())
    params[0].requires_grad_(False)
    params[1].grad = torch.full_like(params[1], 0.5)
    next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d)).eval()


def forbid(module: nn.Module, what: str) -> None:
    def hook(m: nn.Module, args: tuple) -> None:
        raise AssertionError(f"{what} was executed")
    module.register_forward_pre_hook(hook)


def edited_supernet():
    """Tiny NB201 supernet: one op removed, one edge decided; removed ops and every 'none' booby-trapped."""
    space = get_space("nb201")
    state = space.new_state()
    torch.manual_seed(0)
    net = space.build_supernet(state, TINY)
    state.remove("1<-0", "nor_conv_3x3")
    state.decide("3<-2", "avg_pool_3x3")
    for cell in net.cells:
        if hasattr(cell, "edges"):
            forbid(cell.edges["1_0"].ops["nor_conv_3x3"], "a removed op")
            for name in ("nor_conv_3x3", "nor_conv_1x1", "skip_connect"):
                forbid(cell.edges["3_2"].ops[name], "an op removed by a decision")
            for mixed in cell.edges.values():
                forbid(mixed.ops["none"], "the 'none' op")
    return space, state, net


@pytest.mark.slow_params('flops')
@pytest.mark.parametrize("name", PROXIES.names())
def test_proxy_on_edited_supernet(name):
    space, state, net = edited_supernet()
    dirty(net)
    x, y = batch()
    before = fingerprint(net)
    proxy = get_proxy(name)
    with state.perturb("2<-1", "nor_conv_1x1"):
        first = proxy(net, x, y)
        second = proxy(net, x, y)
    assert isinstance(first, float) and math.isfinite(first)
    assert first == second  # deterministic
    assert_same(before, fingerprint(net))


@pytest.mark.parametrize("name", PROXIES.names())
def test_proxy_on_standalone_network(name):
    space = get_space("nb201")
    torch.manual_seed(0)
    net = space.build_network(space.parse_genotype(ARCH), TINY)
    dirty(net)
    x, y = batch()
    before = fingerprint(net)
    proxy = get_proxy(name, bn_mode="eval")
    with proxy.session(net) as ev:
        values = [ev(x, y), ev(x, y)]
    assert math.isfinite(values[0]) and values[0] == values[1]
    assert_same(before, fingerprint(net))


@pytest.mark.slow_params('disc-zc-flops', 'disc-zc-grasp', 'disc-zc-tenas', 'zc-pt-flops', 'zc-pt-grasp', 'zc-pt-tenas')
@pytest.mark.parametrize("name", PROXIES.names())
@pytest.mark.parametrize("scorer", ["zc-pt", "disc-zc"])
def test_proxy_drives_zero_cost_scorers(name, scorer):
    space, state, net = edited_supernet()
    before = fingerprint(net)
    snap = state.snapshot()
    ctx = ScoringContext(space, net, state, get_proxy(name))
    s = SCORERS.get(scorer)(ctx)
    with s.session():
        scores = s.score_edge("2<-1", batch())
        again = s.score_edge("2<-1", batch())
    assert list(scores) == list(state.active("2<-1"))
    assert all(math.isfinite(v) for v in scores.values()) and scores == again
    assert state.snapshot() == snap
    assert_same(before, fingerprint(net))
