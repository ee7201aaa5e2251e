"""supernet.folding: eval-mode BNs folded into their convolutions give the same forward, for every space."""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from scoring.proxies import get_proxy
from supernet.folding import folded_batch_norm
from supernet.modules import BN_TYPES
from supernet.spaces import SPACES
from supernet.spaces.space import NetConfig


class _Count(TorchFunctionMode):
    """Counts the calls of one torch function in a block (e.g. how many BNs or convolutions still run)."""

    def __init__(self, target) -> None:
        super().__init__()
        self.target, self.calls = target, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is self.target:
            self.calls += 1
        return func(*args, **(kwargs or {}))


def _trained_looking(net: nn.Module, seed: int) -> nn.Module:
    """Random running statistics and affine parameters, so folding is not a mere rescaling by 1/sqrt(1+eps)."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, BN_TYPES) and m.track_running_stats:
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return net.eval()


def _forward(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    torch.manual_seed(0)  # darts-s4's noise op draws from the global generator
    with torch.no_grad(), _Count(F.batch_norm) as count:
        y = net(x)
    return y, count.calls


@pytest.mark.parametrize("name", SPACES.names())
def test_every_space_folds_to_the_same_forward(name):
    """Supernet and a sampled network: same outputs (float32 tolerance), fewer BN calls, modules restored."""
    space = SPACES.create(name)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    cfg = NetConfig(channels=4, cells=1, num_classes=3, input_size=16)
    nets = [space.build_supernet(space.new_state(), cfg),
            space.build_network(space.sample(np.random.default_rng(0)), cfg)]
    for net in nets:
        net = _trained_looking(net, 0)
        y, bns = _forward(net, x)
        with folded_batch_norm(net) as folded:
            yf, bns_f = _forward(net, x)
        assert folded > 0 and bns_f == bns - folded  # every folded BN stopped running, no other did
        torch.testing.assert_close(yf, y, rtol=1e-4, atol=1e-5)
        y_after, bns_after = _forward(net, x)
        assert bns_after == bns and torch.equal(y_after, y)  # restored exactly


def test_nb201_folds_every_bn_after_a_convolution():
    """NB201 (C=16, N=5): 15 cells x 6 edges x 2 conv ops, 2 residual blocks x 2 ReLU-conv-BN and the stem give
    185 pairs; only the final BN-ReLU (after an add, not a convolution) still runs."""
    space = SPACES.create("nb201")
    net = space.build_supernet(space.new_state(), NetConfig()).eval()
    x = torch.randn(1, 3, 32, 32)
    _, bns = _forward(net, x)
    with folded_batch_norm(net) as folded:
        _, bns_f = _forward(net, x)
    assert (folded, bns, bns_f) == (15 * 6 * 2 + 2 * 2 + 1, 186, 1)


def test_batch_statistics_and_hooked_modules_are_not_folded():
    """A BN on batch statistics is not an affine map of its input; a hooked module must keep seeing its call."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
    net.train()
    with folded_batch_norm(net) as folded:
        assert folded == 0
    net.eval()
    net[2].register_forward_hook(lambda *a: None)
    with folded_batch_norm(net) as folded:
        assert folded == 1


def test_only_activation_proxies_fold_and_only_in_eval_mode():
    """nwot reads activations only: it folds with BNs on running statistics; synflow needs parameter gradients
    (BN weights included), and batch-mode BNs are not foldable."""
    space = SPACES.create("nb201")
    net = space.build_supernet(space.new_state(), NetConfig(channels=4, cells=1, num_classes=3))
    seen = []
    for proxy, mode in (("nwot", "eval"), ("nwot", "batch"), ("synflow", "eval")):
        with get_proxy(proxy, bn_mode=mode).session(net):
            conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
            seen.append("forward" in conv.__dict__)
    assert seen == [True, False, False]
    assert not any("forward" in m.__dict__ for m in net.modules())


@pytest.mark.parametrize("mixing", ["uniform", "softmax"])
def test_an_edges_conv_ops_merge_into_one_convolution(mixing):
    """NB201's edge ops with a shared (cached) ReLU: the 1x1 and 3x3 ReLU-conv-BN ops become one 3x3 convolution
    (plus the average pool's), for equal and for softmax weights, under every perturbation; the result matches the
    op-by-op sum, and every ReLU module is still called once per op."""
    from supernet.arch_state import ArchState
    from supernet.mixed_op import MixedOp
    from supernet.ops import ReLUCache, nb201_op

    torch.manual_seed(0)
    cache = ReLUCache()
    names = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    state = ArchState.from_candidates({"e": names})
    state.alphas["e"] = torch.randn(len(names))
    edge = _trained_looking(MixedOp("e", {n: nb201_op(n, 4, affine=True, relu_cache=cache) for n in names},
                                    state, mixing, state.alphas), 1)
    relu_calls = []
    for n in ("nor_conv_1x1", "nor_conv_3x3"):
        edge.ops[n].op[0].register_forward_pre_hook(lambda m, a, n=n: relu_calls.append(n))
    x = torch.randn(2, 4, 6, 6)
    for removed in (None, "skip_connect", "nor_conv_1x1", "avg_pool_3x3"):
        with torch.no_grad(), cache.scope(), (state.perturb("e", removed) if removed else nullcontext()):
            want = edge(x)
            relu_calls.clear()
            with folded_batch_norm(edge), _Count(F.conv2d) as convs:
                got = edge(x)
        both = removed != "nor_conv_1x1"
        assert convs.calls == 1 + (removed != "avg_pool_3x3")  # the merged 3x3 (or the lone 3x3), the pool
        assert relu_calls == (["nor_conv_1x1", "nor_conv_3x3"] if both else ["nor_conv_3x3"])
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
