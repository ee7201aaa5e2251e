import torch
from torch import nn

from supernet.arch_state import ArchState
from supernet.mixed_op import MixedOp
from supernet.ops import AvgPool3x3, Zero


class Counting(nn.Module):
    """Multiplies by a constant and counts its calls."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k, self.calls = k, 0

    def forward(self, x):
        self.calls += 1
        return x * self.k


def make(mixing="uniform", alphas=None):
    ops = {"none": Zero(), "a": Counting(1.0), "b": Counting(2.0), "c": Counting(4.0)}
    st = ArchState.from_candidates({"e": tuple(ops)})
    if alphas is not None:
        st.alphas["e"] = alphas
    return MixedOp("e", ops, st, mixing, st.alphas), st, ops


def test_removed_ops_are_not_executed():
    m, st, ops = make()
    x = torch.ones(2)
    with st.perturb("e", "b"):
        y = m(x)
    assert ops["a"].calls == 1 and ops["b"].calls == 0 and ops["c"].calls == 1
    # uniform over 3 active ops (none counts, is not run): (1 + 4) / 3
    assert torch.allclose(y, torch.full((2,), 5.0 / 3))
    with st.discretize("e", "c"):
        assert torch.allclose(m(x), torch.full((2,), 4.0))
    assert ops["a"].calls == 1 and ops["b"].calls == 0 and ops["c"].calls == 2


def test_uniform_full_edge():
    m, st, _ = make()
    assert torch.allclose(m(torch.ones(1)), torch.tensor([7.0 / 4]))


def test_softmax_renormalised_vs_fixed():
    alpha = torch.tensor([0.0, 1.0, 2.0, 3.0])
    x = torch.ones(1)
    m, st, _ = make("softmax", alpha)
    with st.perturb("e", "c"):
        w = torch.softmax(alpha[:3], 0)
        assert torch.allclose(m(x), w[1] * 1 + w[2] * 2)
    m, st, _ = make("softmax-fixed", alpha)
    with st.perturb("e", "c"):
        w = torch.softmax(alpha, 0)
        assert torch.allclose(m(x), w[1] * 1 + w[2] * 2)


def test_uniform_renormalised_vs_fixed():
    """After removing c (x4) from {none, a (x1), b (x2), c}: uniform gives (1 + 2) / 3, uniform-fixed (1 + 2) / 4,
    the published Zero-Cost-PT perturbation for proxies other than nwot."""
    x = torch.ones(1)
    for rule, expected in (("uniform", 3.0 / 3), ("uniform-fixed", 3.0 / 4)):
        m, st, _ = make(rule)
        with st.perturb("e", "c"):
            assert torch.allclose(m(x), torch.tensor([expected])), rule
        with st.discretize("e", "b"):  # a single op runs alone, weight 1, under every rule
            assert torch.allclose(m(x), torch.tensor([2.0])), rule


def test_edge_removed_entirely_contributes_nothing():
    m, st, ops = make()
    with st.without_edge("e"):
        assert m(torch.ones(1)) is None
    assert all(getattr(o, "calls", 0) == 0 for o in ops.values())


def test_skip_connect_input_is_not_modified_in_place():
    ops = {"skip": nn.Identity(), "a": Counting(3.0)}
    st = ArchState.from_candidates({"e": tuple(ops)})
    m = MixedOp("e", ops, st)
    x = torch.ones(3)
    y = m(x)
    assert torch.equal(x, torch.ones(3)) and torch.allclose(y, torch.full((3,), 2.0))


def test_avg_pool_matches_torch_pool_ignoring_padding():
    x = torch.randn(2, 3, 7, 9)
    for stride in (1, 2):
        ref = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)(x)
        assert torch.allclose(AvgPool3x3(stride)(x), ref, atol=1e-6)


def test_grouped_forward_mixes_each_group_with_its_own_active_set():
    """Group g of the batch sees variant g (supernet.grouped); the others' ops get weight 0 there."""
    from supernet.grouped import discretization, grouped, removal
    m, st, ops = make()
    x = torch.ones(2, 1)
    with grouped(st, [removal(st, "e", "b"), discretization("e", "c")]) as g:
        assert g.op_active("e", "a") == [True, False] and g.op_active("e", "c") == [True, True]
        out = m(x)
    assert st.grouping is None
    assert torch.allclose(out, torch.tensor([[(1.0 + 4.0) / 3], [4.0]]))  # uniform over none, a, c


def test_use_mixing_and_preserved_restore_the_model():
    from supernet.modes import preserved, use_mixing
    m, st, _ = make()
    net = nn.Sequential(m, nn.BatchNorm1d(1), nn.Dropout(0.5))
    net.train()
    with use_mixing(net, "sum"):
        assert m.mixing == "sum"
        with preserved(net, "batch"):
            assert not net[2].training and net[1].training and not net[1].track_running_stats
        with preserved(net, "eval"):
            assert not net[1].training
    assert m.mixing == "uniform" and all(mod.training for mod in net.modules()) and net[1].track_running_stats
