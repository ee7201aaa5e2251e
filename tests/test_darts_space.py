"""DARTS space: candidates, subspaces S1-S4, ops, the search supernet and the stand-alone networks."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from supernet.mixed_op import MixedOp
from supernet.ops import AvgPool3x3
from supernet.registry import UnknownNameError
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig, SupernetLayout
from supernet.spaces.darts import DARTS_V2, DartsGenotype, NetworkCIFAR, NetworkImageNet
from supernet.spaces.darts_networks import GenotypeCell
from supernet.spaces.darts_ops import FactorizedReduce, MaxPool3x3, NoiseOp

SEVEN = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
         "dil_conv_5x5")
DARTS_EDGE_ORDER = [(2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (4, 0), (4, 1), (4, 2), (4, 3),
                    (5, 0), (5, 1), (5, 2), (5, 3), (5, 4)]
ABBREV = {"skip": "skip_connect", "max": "max_pool_3x3", "avg": "avg_pool_3x3", "sep3": "sep_conv_3x3",
          "dil3": "dil_conv_3x3", "dil5": "dil_conv_5x5"}
# RobustDARTS S1, transcribed from DESIGN.md ("Facts the spaces must match")
S1_TEXT = {
    "normal": "skip/dil3, skip/dil5, skip/dil5, skip/sep3, skip/dil3, max/skip, skip/sep3, skip/sep3, skip/dil3, "
              "skip/sep3, max/skip, skip/dil3, dil3/dil5, dil3/dil5",
    "reduce": "max/avg, max/dil3, max/avg, max/avg, skip/dil5, max/avg, max/sep3, skip/dil3, skip/dil5, max/avg, "
              "max/avg, skip/dil5, skip/dil5, skip/dil5",
}


def listed_ops(space: str) -> dict[str, set[str]]:
    """Edge -> op set as DESIGN.md lists it for each subspace."""
    out = {}
    for ct in ("normal", "reduce"):
        pairs = [p.strip() for p in S1_TEXT[ct].split(",")]
        for (i, j), pair in zip(DARTS_EDGE_ORDER, pairs):
            ops = {"darts-s1": {ABBREV[a] for a in pair.split("/")},
                   "darts-s2": {"skip_connect", "sep_conv_3x3"},
                   "darts-s3": {"none", "skip_connect", "sep_conv_3x3"},
                   "darts-s4": {"noise", "sep_conv_3x3"}}[space]
            out[f"{ct}:{i}<-{j}"] = ops
    return out


def test_darts_candidates_and_edge_order():
    cand = get_space("darts").candidates()
    assert list(cand) == [f"{ct}:{i}<-{j}" for i, j in DARTS_EDGE_ORDER for ct in ("normal", "reduce")]
    assert all(ops == SEVEN for ops in cand.values())
    with_none = get_space("darts", include_none=True).candidates()
    assert all(ops == ("none",) + SEVEN for ops in with_none.values())


def test_space_options_are_checked():
    with pytest.raises(UnknownNameError, match="space 'nb201' has no option 'include_none'; its options: none"):
        get_space("nb201", include_none=True)
    with pytest.raises(UnknownNameError, match="darts-s1"):
        get_space("darts-s1", include_none=True)
    with pytest.raises(UnknownNameError, match="its options: include_none"):
        get_space("darts", channels=3)


@pytest.mark.parametrize("name", ["darts-s1", "darts-s2", "darts-s3", "darts-s4"])
def test_subspace_supernets_hold_exactly_the_listed_ops(name):
    space = get_space(name)
    expected = listed_ops(name)
    assert {e: set(ops) for e, ops in space.candidates().items()} == expected
    state = space.new_state()
    net = space.build_supernet(state, NetConfig(channels=2, cells=4, num_classes=3))
    mixed = [m for m in net.modules() if isinstance(m, MixedOp)]
    assert len(mixed) == 4 * 14
    for m in mixed:
        assert set(m.ops) == expected[m.edge]
    types = [c.edges["2_0"].edge.split(":")[0] for c in net.cells]
    assert types == ["normal", "reduce", "reduce", "normal"]  # reductions at 4//3 = 1 and 8//3 = 2


@pytest.mark.slow
def test_supernet_layout_and_shared_edges():
    space = get_space("darts")
    state = space.new_state()
    net = space.build_supernet(state, NetConfig(channels=2, cells=5, num_classes=3)).eval()
    types = ["reduce" if c.reduction else "normal" for c in net.cells]
    assert types == ["normal", "reduce", "normal", "reduce", "normal"]  # 5//3 = 1, 10//3 = 3
    calls = []
    for cell in net.cells:
        op = cell.edges["3_1"].ops["sep_conv_3x3"]
        op.register_forward_hook(lambda m, i, o, t=("reduce" if cell.reduction else "normal"): calls.append(t))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        y = net(x)
        assert y.shape == (2, 3) and sorted(calls) == ["normal"] * 3 + ["reduce"] * 2
        calls.clear()
        with state.perturb("normal:3<-1", "sep_conv_3x3"):  # removed in every normal cell, never executed
            y2 = net(x)
        assert calls == ["reduce", "reduce"] and not torch.allclose(y, y2)
        assert torch.equal(net(x), y)


def test_reduction_node_with_every_input_off_is_zeros_of_the_reduced_shape():
    space = get_space("darts-s3")
    state = space.new_state()
    net = space.build_supernet(state, NetConfig(channels=2, cells=3, num_classes=3)).eval()
    for ct in ("normal", "reduce"):
        for j in (0, 1):
            state.decide(f"{ct}:2<-{j}", "none")
    red = net.cells[1]  # inputs: the stem (3C = 6 channels) and cell 0 (4C = 8 channels)
    out = red(torch.randn(2, 6, 9, 9), torch.randn(2, 8, 9, 9))
    assert out.shape == (2, 4 * 4, 5, 5)
    assert torch.count_nonzero(out[:, :4]) == 0  # node 2 has no live input
    assert net(torch.randn(2, 3, 9, 9)).shape == (2, 3)


def test_te_nas_layout_is_a_stem_of_c_a_normal_and_a_reduce_cell_and_bn_relu_before_pooling():
    """TE-NAS's DARTS pruning supernet (NASNetworkDARTS, C=1, N=1, depth 2, stem multiplier 1): stem 3 -> C, cell 0
    normal at C (4C out, full size), cell 1 reduce at 2C (8C out, half size), BN + ReLU, pooling, linear."""
    space = get_space("darts")
    torch.manual_seed(0)
    layout = SupernetLayout(stem_multiplier=1, reduce_cells=(1,), final_act=True)
    net = space.build_supernet(space.new_state(), NetConfig(channels=1, cells=2, num_classes=10, layout=layout)).train()
    assert net.stem[0].weight.shape == (1, 3, 3, 3)
    assert [c.reduction for c in net.cells] == [False, True] and [c.channels for c in net.cells] == [1, 2]
    feats = []
    net.cells[1].register_forward_hook(lambda m, i, o: feats.append(o))
    x = torch.randn(6, 3, 16, 16)
    logits = net(x)
    assert feats[0].shape == (6, 8, 8, 8)
    f = feats[0]
    normed = (f - f.mean((0, 2, 3), keepdim=True)) / torch.sqrt(f.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
    assert torch.allclose(logits, net.classifier(normed.clamp(min=0).mean((2, 3))), atol=1e-5)


@pytest.mark.slow
def test_search_ops_are_darts_by_default_and_te_nas_with_affine_bn_and_bare_pools():
    """DARTS's model_search.py: BN(affine=False) in every op, BN after each pool; TE-NAS's cell_operations.py (its
    launcher sets affine): affine BN, pools without BN."""
    space = get_space("darts")
    for cfg, affine, pool_bn in ((NetConfig(channels=2, cells=3), False, True),
                                 (NetConfig(channels=2, cells=3, layout=SupernetLayout(affine_ops=True, pool_bn=False)),
                                  True, False)):
        net = space.build_supernet(space.new_state(), cfg)
        edge = net.cells[0].edges["3_1"]
        bns = [b for op in edge.ops.values() for b in op.modules() if isinstance(b, nn.BatchNorm2d)]
        assert bns and all(b.affine == affine for b in bns)
        assert all(b.affine == affine for b in net.cells[0].preprocess0.modules() if isinstance(b, nn.BatchNorm2d))
        for pool in ("max_pool_3x3", "avg_pool_3x3"):
            assert any(isinstance(b, nn.BatchNorm2d) for b in edge.ops[pool].modules()) == pool_bn
    nb201 = get_space("nb201")
    for affine in (False, True):
        net = nb201.build_supernet(nb201.new_state(), NetConfig(channels=2, cells=1,
                                                                layout=SupernetLayout(affine_ops=affine)))
        edge = next(m for m in net.modules() if isinstance(m, MixedOp))
        assert all(b.affine == affine for b in edge.modules() if isinstance(b, nn.BatchNorm2d))


def test_darts_layout_by_default_and_bad_layouts_are_one_error():
    """Without layout settings: stem 3C, reductions at 1/3 and 2/3 of the depth, pooling straight after the cells."""
    space = get_space("darts")
    net = space.build_supernet(space.new_state(), NetConfig(channels=2, cells=6))
    assert net.stem[0].weight.shape[0] == 6 and [c.reduction for c in net.cells] == [False, False, True, False,
                                                                                     True, False]
    assert isinstance(net.lastact, nn.Identity)
    for bad in ({"reduce_cells": (2,)}, {"reduce_cells": (-1,)}, {"stem_multiplier": -1}):
        with pytest.raises(ValueError, match="a DARTS supernet of 2 cells needs"):
            space.build_supernet(space.new_state(), NetConfig(channels=1, cells=2, layout=SupernetLayout(**bad)))


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (1, 1)])
@pytest.mark.parametrize("stride", [1, 2])
def test_fast_pools_equal_torch_pools(size, stride):
    x = torch.randn(2, 3, *size)
    assert torch.equal(MaxPool3x3(stride)(x), F.max_pool2d(x, 3, stride, 1))
    ref = F.avg_pool2d(x, 3, stride, 1, count_include_pad=False)
    assert torch.allclose(AvgPool3x3(stride)(x), ref, atol=1e-6)


def factorized_reduce_reference(fr: FactorizedReduce, x: torch.Tensor) -> torch.Tensor:
    """DARTS' FactorizedReduce: stride-2 1x1 convs of relu(x) and of relu(x) shifted by one pixel (padded at the
    far edge, which odd sizes sample), eval-mode BN."""
    r = torch.relu(x)
    shifted = F.pad(r[:, :, 1:, 1:], (0, 1, 0, 1))
    y = torch.cat([F.conv2d(r, fr.conv_1.weight, stride=2), F.conv2d(shifted, fr.conv_2.weight, stride=2)], 1)
    return F.batch_norm(y, fr.bn.running_mean, fr.bn.running_var, training=False)


@pytest.mark.parametrize("size", [(8, 8), (7, 5), (1, 2)])
def test_factorized_reduce_is_darts_on_even_sizes_and_ceil_on_odd(size):
    torch.manual_seed(0)
    fr = FactorizedReduce(4, 6, affine=False).eval()
    x = torch.randn(2, 4, *size)
    out = fr(x)
    assert out.shape == (2, 6, (size[0] + 1) // 2, (size[1] + 1) // 2)
    assert torch.allclose(out, factorized_reduce_reference(fr, x), atol=1e-6)
    with pytest.raises(ValueError, match="even"):
        FactorizedReduce(4, 5, affine=True)


def test_factorized_reduce_weight_gradient_on_channels_last_with_two_channels():
    """TE-NAS's C=1 DARTS supernet reduces 2 channels; torch 2.14's channels-last stride-2 1x1 conv weight
    gradient crashed the process there. The gradients equal those of the contiguous DARTS formula."""
    torch.manual_seed(0)
    fr = FactorizedReduce(2, 2, affine=False).train()
    x, probe = torch.randn(14, 2, 32, 32), torch.randn(14, 2, 16, 16)
    grads = []
    for mem in (torch.contiguous_format, torch.channels_last):
        net = fr.to(memory_format=mem)
        out = net(x.to(memory_format=mem))
        grads.append(torch.autograd.grad((out * probe).sum(), [net.conv_1.weight, net.conv_2.weight]))
    w = [c.weight.detach().clone(memory_format=torch.contiguous_format).requires_grad_()
         for c in (fr.conv_1, fr.conv_2)]
    r = torch.relu(x)
    y = torch.cat([F.conv2d(r, w[0], stride=2), F.conv2d(F.pad(r[:, :, 1:, 1:], (0, 1, 0, 1)), w[1], stride=2)], 1)
    ref = torch.autograd.grad((F.batch_norm(y, None, None, training=True) * probe).sum(), w)
    for a, b, c in zip(*grads, ref):  # float32 sums over 3,584 pixels: agree to 1e-3 of the gradient's scale
        tol = 1e-3 * float(c.abs().max())
        assert torch.allclose(a, c, rtol=0, atol=tol) and torch.allclose(b, c, rtol=0, atol=tol)


def test_noise_op_is_fresh_standard_gaussian_shaped_like_the_input():
    x = torch.full((64, 8, 16, 16), 7.0)
    a, b = NoiseOp(1)(x), NoiseOp(1)(x)
    assert a.shape == x.shape and not torch.equal(a, b)
    assert abs(float(a.mean())) < 0.02 and abs(float(a.std()) - 1.0) < 0.02
    assert NoiseOp(2)(torch.zeros(2, 3, 7, 8)).shape == (2, 3, 4, 4)


@pytest.mark.parametrize("stride", [1, 2])
def test_noise_op_draws_the_same_noise_whatever_the_memory_layout(stride):
    x = torch.zeros(2, 3, 6, 6)
    draws = []
    for mem in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        draws.append(NoiseOp(stride)(x.to(memory_format=mem)))
    assert torch.equal(draws[0], draws[1])
    assert draws[1].is_contiguous(memory_format=torch.channels_last) or stride == 2


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for name, p in net.named_parameters() if "auxiliary" not in name)


def test_darts_v2_parameter_count_at_c36_20_cells():
    """DARTS paper: 3.3M parameters; its training log prints 3.349342 MB (auxiliary head excluded)."""
    net = NetworkCIFAR(36, 10, 20, True, DARTS_V2)
    assert abs(n_params(net) - 3.3e6) <= 0.1e6
    assert n_params(net) == 3_349_342


def test_network_cifar_outputs_and_auxiliary_head():
    torch.manual_seed(0)
    net = NetworkCIFAR(4, 5, 6, True, DARTS_V2)
    x = torch.randn(2, 3, 32, 32)
    net.train()
    logits, aux = net(x)
    assert logits.shape == (2, 5) and aux.shape == (2, 5)
    net.eval()
    assert net(x).shape == (2, 5)
    plain = NetworkCIFAR(4, 5, 6, False, DARTS_V2).train()
    assert isinstance(plain(x), torch.Tensor)
    assert not any("auxiliary" in n for n, _ in plain.named_parameters())


def test_drop_path_spares_identity_ops_and_only_acts_in_training():
    skips = DartsGenotype([("skip_connect", 0), ("skip_connect", 1)] * 4, [2, 3, 4, 5],
                          [("max_pool_3x3", 0)] * 8, [2, 3, 4, 5])
    convs = DartsGenotype([("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 4, [2, 3, 4, 5],
                          [("max_pool_3x3", 0)] * 8, [2, 3, 4, 5])
    s0, s1 = torch.randn(8, 4, 6, 6), torch.randn(8, 4, 6, 6)
    for g, dropped in ((skips, False), (convs, True)):
        torch.manual_seed(1)
        cell = GenotypeCell(g, 4, 4, 4, reduction=False, reduction_prev=False).train()
        ref = cell(s0, s1, 0.0)
        torch.manual_seed(2)
        out = cell(s0, s1, 0.5)
        assert torch.allclose(out, ref, atol=1e-6) != dropped
        cell.eval()
        assert torch.equal(cell(s0, s1, 0.5), cell(s0, s1, 0.0))


def test_build_network_picks_the_imagenet_network_for_large_inputs():
    space = get_space("darts")
    small = space.build_network(DARTS_V2, NetConfig(channels=4, cells=3, num_classes=7, input_size=32))
    large = space.build_network(DARTS_V2, NetConfig(channels=8, cells=3, num_classes=7, input_size=224))
    assert type(small) is NetworkCIFAR and type(large) is NetworkImageNet
    assert large.eval()(torch.randn(1, 3, 96, 96)).shape == (1, 7)
    default = space.build_network(DARTS_V2, NetConfig(num_classes=10))
    assert len(default.cells) == 8 and default.stem[0].out_channels == 48  # C=16, 8 cells by default


def test_imagenet_network_with_auxiliary_head_at_224():
    net = NetworkImageNet(8, 11, 3, True, DARTS_V2).train()
    logits, aux = net(torch.randn(2, 3, 224, 224))
    assert logits.shape == (2, 11) and aux.shape == (2, 11)


def test_genotype_from_state_needs_decisions_and_topology():
    space = get_space("darts")
    state = space.new_state()
    with pytest.raises(ValueError, match="not decided"):
        space.genotype_from_state(state)
    for e in state.edge_ids():
        state.decide(e, "sep_conv_5x5" if e.startswith("normal") else "avg_pool_3x3")
    with pytest.raises(ValueError, match="node 3 keeps 3 input edges"):
        space.genotype_from_state(state)
    for g in space.topology_groups():
        for e in g.edges[:-2]:  # keep the two latest inputs of every node
            state.set_active(e, [])
    g = space.genotype_from_state(state)
    assert g.normal == [("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
                        ("sep_conv_5x5", 2), ("sep_conv_5x5", 3), ("sep_conv_5x5", 3), ("sep_conv_5x5", 4)]
    assert {op for op, _ in g.reduce} == {"avg_pool_3x3"} and g.normal_concat == [2, 3, 4, 5]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["darts", "darts-s3"])
def test_batched_scoring_equals_one_forward_per_perturbation(name):
    from scoring.proxies import get_proxy
    from scoring.scorers import SCORERS, ScoringContext
    space = get_space(name)
    torch.manual_seed(0)
    state = space.new_state()
    net = space.build_supernet(state, NetConfig(channels=2, cells=3, num_classes=10))
    state.decide("normal:2<-0", state.candidates("normal:2<-0")[-1])
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(4, dtype=torch.long)
    out = {}
    for batched in (False, True):
        sc = SCORERS.get("zc-pt")(ScoringContext(space, net, state, get_proxy("nwot"), batched=batched))
        with sc.session():
            out[batched] = {e: sc.score_edge(e, (x, y)) for e in ("normal:3<-1", "reduce:2<-0", "reduce:5<-4")}
    for e, scores in out[False].items():
        assert out[True][e] == pytest.approx(scores, rel=1e-9, abs=1e-9)


# RobustDARTS's parser (Zela et al. 2020; DARTS-PT, ZC-PT) ranks a node's inputs by their largest weight other than
# 'none' and takes each input's best op other than 'none'. S3 ops per edge: none, skip_connect, sep_conv_3x3.
S3_ALPHAS = {"normal:3<-0": [5.0, 0.0, 1.0],  # 'none' dominates; best other op sep_conv_3x3 at e^1/(e^5+1+e) ~ 0.018
             "normal:3<-1": [0.0, 0.0, 2.0],  # sep_conv_3x3 ~ 0.79
             "normal:3<-2": [0.0, 1.0, 0.0],  # skip_connect ~ 0.58
             "normal:2<-1": [9.0, 2.0, 0.0]}  # 'none' dominates on a kept edge: its best other op is skip_connect
ALL_SKIP_01 = [("skip_connect", 0), ("skip_connect", 1)]  # all-zero alphas: equal weights, inputs 0 and 1 first


def test_darts_s3_alpha_derivation_leaves_none_out_as_robust_darts():
    from scoring.scorers.darts_alpha import argmax_genotype
    space = get_space("darts-s3")
    state = space.new_state()
    for e in state.edge_ids():
        state.alphas[e] = torch.tensor(S3_ALPHAS.get(e, [0.0, 0.0, 0.0]))
    g = argmax_genotype(space, state, "softmax")
    # with 'none' the old rule kept (none, 0) on node 3 (strength 0.98) and (none, 1) on node 2
    assert g.normal == [("skip_connect", 0), ("skip_connect", 1), ("sep_conv_3x3", 1), ("skip_connect", 2),
                        *ALL_SKIP_01, *ALL_SKIP_01]
    assert g.reduce == ALL_SKIP_01 * 4
    assert state.undecided() == state.edge_ids()  # the state is left as it was


def test_darts_s3_decided_none_is_parsed_as_robust_darts_parses_projected_weights():
    """A kept edge decided 'none' weighs 0 like the removed ones, so the node's inputs are its other kept edge and
    the lowest input at weight 0, which gets its first op other than 'none' (DARTS-PT's genotype() on the
    projected weights)."""
    space = get_space("darts-s3")
    state = space.new_state()
    kept = {2: {0: "sep_conv_3x3", 1: "skip_connect"}, 3: {0: "sep_conv_3x3", 1: "none"},
            4: {2: "none", 3: "sep_conv_3x3"}, 5: {0: "sep_conv_3x3", 4: "skip_connect"}}
    for ct in ("normal", "reduce"):
        for i in range(2, 6):
            for j in range(i):
                e = f"{ct}:{i}<-{j}"
                op = kept[i].get(j)
                if op is None:
                    state.set_active(e, [])
                else:
                    state.decide(e, op if ct == "normal" or op != "none" else "skip_connect")
    g = space.genotype_from_state(state)
    assert g.normal == [("sep_conv_3x3", 0), ("skip_connect", 1),
                        ("sep_conv_3x3", 0), ("skip_connect", 1),  # input 1 ('none') ties with the removed 2
                        ("skip_connect", 0), ("sep_conv_3x3", 3),  # input 2 ('none') loses the tie to removed 0
                        ("sep_conv_3x3", 0), ("skip_connect", 4)]
    assert g.reduce == [("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 0), ("skip_connect", 1),
                        ("skip_connect", 2), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("skip_connect", 4)]


def test_darts_s3_genotypes_range_over_ops_other_than_none():
    """darts-s3 offers {none, skip_connect, sep_conv_3x3} on every edge, but a genotype never holds 'none'
    (RobustDARTS's parser): per cell, node k (inputs 2+k) keeps 2 of its inputs with 2 ops each, so
    prod_k C(2+k, 2) * 2^2 = 4 * 12 * 24 * 40 = 46,080 cells, squared for normal and reduce; samples and
    mutations hold no 'none'."""
    import numpy as np

    from supernet.spaces import SPACES

    space = SPACES.create("darts-s3")
    assert space.size() == 46_080 ** 2
    rng = np.random.default_rng(0)
    for _ in range(20):
        g = space.sample(rng)
        child = space.mutate(g, rng)
        for genotype in (g, child):
            assert all(op != "none" for op, _ in genotype.normal + genotype.reduce)
        assert space.format_genotype(child) != space.format_genotype(g)
