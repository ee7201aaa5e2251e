"""Each proxy against an independent expectation on a tiny network: hand-derived formulas (numpy),
finite differences (grasp's Hessian-vector product, jacob_cov's Jacobian), hand-counted linear regions,
and the invariances the papers state (synflow's layer rescaling, Zen's BN compensation)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from scoring.proxies import PROXIES, get_proxy
from scoring.proxies.grasp import hessian_vector_product
from scoring.proxies.jacob_cov import EPS_K
from scoring.proxies.tenas import (Tenas, TenasMeasure, activation_patterns, ntk_condition_number, rank_combine,
                                   te_nas_rank_combine)
from scoring.proxies.zen import gaussian_pair
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture
def linear_case():
    """A float64 linear classifier (4 -> 3) and a batch; p - onehot is dL_n/dz_n by hand."""
    torch.manual_seed(0)
    net = nn.Linear(4, 3).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2, 0])
    W, b = net.weight.detach().numpy(), net.bias.detach().numpy()
    z = x.numpy() @ W.T + b
    delta = softmax(z) - np.eye(3)[y.numpy()]
    return net, x, y, W, z, delta


def test_grad_norm_and_snip_by_hand(linear_case):
    net, x, y, W, z, delta = linear_case
    grad_w = delta.T @ x.numpy() / len(y)  # d mean-CE / dW; the bias is not a scored parameter
    assert get_proxy("grad_norm")(net, x, y) == pytest.approx(np.linalg.norm(grad_w), rel=1e-12)
    assert get_proxy("snip")(net, x, y) == pytest.approx(np.abs(grad_w * W).sum(), rel=1e-12)


def test_fisher_by_hand_linear(linear_case):
    net, x, y, W, z, delta = linear_case
    expected = 0.5 * ((z * delta) ** 2).mean(0).sum()  # Theis et al.: per-sample loss gradients
    assert get_proxy("fisher")(net, x, y) == pytest.approx(expected, rel=1e-12)


def test_fisher_by_hand_conv():
    """logits = spatial mean of a 1x1 conv: sum_spatial z * dL/dz = logit * (p - onehot)."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    x = torch.randn(4, 2, 3, 3, dtype=torch.float64)
    y = torch.tensor([1, 0, 2, 2])
    with torch.no_grad():
        logits = net(x).numpy()
    delta = softmax(logits) - np.eye(3)[y.numpy()]
    assert get_proxy("fisher")(net, x, y) == pytest.approx(0.5 * ((logits * delta) ** 2).mean(0).sum(), rel=1e-12)


def _mlp() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()


def _grads(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    loss = nn.functional.cross_entropy(net(x), y)
    return list(torch.autograd.grad(loss, [net[0].weight, net[2].weight]))


def _shifted_grads(net: nn.Module, x, y, v, eps: float) -> list[torch.Tensor]:
    ws = [net[0].weight, net[2].weight]
    with torch.no_grad():
        for w, d in zip(ws, v):
            w.add_(eps * d)
    try:
        return _grads(net, x, y)
    finally:
        with torch.no_grad():
            for w, d in zip(ws, v):
                w.sub_(eps * d)


def test_hessian_vector_product_matches_finite_differences():
    net = _mlp()
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    ws = [net[0].weight, net[2].weight]
    v = [torch.randn_like(w) for w in ws]
    hv = hessian_vector_product(nn.functional.cross_entropy(net(x), y), ws, v)
    eps = 1e-5
    plus, minus = _shifted_grads(net, x, y, v, eps), _shifted_grads(net, x, y, v, -eps)
    for h, p, m in zip(hv, plus, minus):
        torch.testing.assert_close(h, (p - m) / (2 * eps), rtol=1e-6, atol=1e-9)


def test_grasp_equals_minus_w_hg_by_finite_differences():
    net = _mlp()
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.tensor([2, 1, 0, 0, 1, 2])
    g = [t.detach() for t in _grads(net, x, y)]
    eps = 1e-5
    plus, minus = _shifted_grads(net, x, y, g, eps), _shifted_grads(net, x, y, g, -eps)
    hg = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
    expected = -sum(float((w.detach() * h).sum()) for w, h in zip([net[0].weight, net[2].weight], hg))
    assert get_proxy("grasp")(net, x, y) == pytest.approx(expected, rel=1e-6)


def _chain(widths=(3, 4, 5, 2), bn_after_first: bool = False) -> nn.Sequential:
    torch.manual_seed(3)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b, bias=False))
        if i == 0 and bn_after_first:
            layers.append(nn.BatchNorm1d(b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).double()


def _synflow_by_hand(net: nn.Sequential) -> float:
    """No biases, BN bypassed: R = 1^T |W_L| ... |W_1| 1 and every layer's flow sums to R, so S = L * R."""
    ws = [m.weight.detach().abs().numpy() for m in net if isinstance(m, nn.Linear)]
    h = np.ones(ws[0].shape[1])
    for w in ws:
        h = w @ h
    return math.log(len(ws) * h.sum())


def test_synflow_by_hand_and_data_free():
    net = _chain()
    x = torch.randn(4, 3, dtype=torch.float64)
    assert get_proxy("synflow")(net, x, None) == pytest.approx(_synflow_by_hand(net), rel=1e-12)
    assert get_proxy("synflow")(net, 100 * x, None) == get_proxy("synflow")(net, x, None)


def test_synflow_invariant_to_layer_rescaling_and_signs():
    net = _chain()
    x = torch.randn(4, 3, dtype=torch.float64)
    before = get_proxy("synflow")(net, x, None)
    with torch.no_grad():
        net[0].weight.mul_(-7.0)   # sign flips do not matter (|theta|) ...
        net[2].weight.div_(7.0)    # ... and a layer-to-layer rescaling leaves synflow unchanged
    assert get_proxy("synflow")(net, x, None) == pytest.approx(before, rel=1e-12)


def test_synflow_bypasses_bn_and_synflow_bn_keeps_it():
    plain, with_bn = _chain(), _chain(bn_after_first=True)
    with torch.no_grad():
        for a, b in zip([m for m in plain if isinstance(m, nn.Linear)], [m for m in with_bn if isinstance(m, nn.Linear)]):
            b.weight.copy_(a.weight)
        with_bn[1].weight.fill_(-3.0)  # any BN affine / statistics: bypassed entirely
        with_bn[1].running_var.fill_(5.0)
    x = torch.randn(4, 3, dtype=torch.float64)
    assert get_proxy("synflow")(with_bn, x, None) == pytest.approx(get_proxy("synflow")(plain, x, None), rel=1e-12)
    # synflow_bn (eval BN with |gamma| = 1, beta = 0, running stats 0 / 1) scales R and every flow by
    # 1/sqrt(1 + eps): ln S shifts by exactly that factor.
    with torch.no_grad():
        with_bn[1].weight.fill_(1.0)
        with_bn[1].running_var.fill_(1.0)
    shift = -0.5 * math.log(1.0 + with_bn[1].eps)
    assert get_proxy("synflow_bn", bn_mode="eval")(with_bn, x, None) == pytest.approx(
        get_proxy("synflow")(plain, x, None) + shift, rel=1e-12)


def test_synflow_rescales_instead_of_overflowing():
    """12 scalar layers of weight 1e30: R = 1e360 overflows float64; ln S = ln 12 + 12 ln 1e30 exactly."""
    net = nn.Sequential(*[nn.Linear(1, 1, bias=False) for _ in range(12)]).double()
    with torch.no_grad():
        for m in net:
            m.weight.fill_(1e30)
    score = get_proxy("synflow")(net, torch.ones(2, 1, dtype=torch.float64), None)
    assert math.isfinite(score)
    assert score == pytest.approx(math.log(12) + 12 * math.log(1e30), rel=1e-12)


def _jacobian_fd(net: nn.Module, x: torch.Tensor, h: float = 1e-6) -> np.ndarray:
    """Rows d(sum of outputs)/dx_n by central differences (the net has no batch coupling)."""
    rows = []
    with torch.no_grad():
        for n in range(x.shape[0]):
            row = []
            for d in range(x.shape[1]):
                e = torch.zeros_like(x[n:n + 1])
                e[0, d] = h
                row.append(float(net(x[n:n + 1] + e).sum() - net(x[n:n + 1] - e).sum()) / (2 * h))
            rows.append(row)
    return np.array(rows)


def test_jacob_cov_matches_finite_differences_and_formula():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    lam = np.linalg.eigvalsh(np.corrcoef(_jacobian_fd(net, x)))
    expected = -np.sum(np.log(lam + EPS_K) + 1.0 / (lam + EPS_K))
    assert get_proxy("jacob_cov")(net, x, None) == pytest.approx(expected, rel=1e-6)


def test_jacob_cov_identical_images_documented_value():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    n, k = 5, EPS_K
    x = torch.randn(1, 4, dtype=torch.float64).repeat(n, 1)
    expected = -(math.log(n + k) + 1 / (n + k)) - (n - 1) * (math.log(k) + 1 / k)  # eigenvalues (n, 0, ..., 0)
    assert get_proxy("jacob_cov")(net, x, None) == pytest.approx(expected, rel=1e-9)


def test_zen_by_hand_and_bn_compensation():
    """Linear -> BN(eval) -> Linear: f(x) - f(x + a eps) = -a W2 diag(gamma/s) W1 eps, BN term ln s-bar."""
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)).double()
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([0.5, 2.0, -1.0]))
        net[1].running_var.copy_(torch.tensor([4.0, 1.0, 9.0]))
        net[1].running_mean.copy_(torch.tensor([0.3, -0.2, 0.1]))
    batch = torch.zeros(6, 4, dtype=torch.float64)
    _, eps = gaussian_pair(batch.shape, 0, batch)
    alpha, s = 0.01, np.sqrt(net[1].running_var.numpy() + net[1].eps)
    lin = net[2].weight.detach().numpy() @ np.diag(net[1].weight.detach().numpy() / s) @ net[0].weight.detach().numpy()
    delta = np.linalg.norm(alpha * eps.numpy() @ lin.T, axis=1).mean()
    expected = math.log(delta) + 0.5 * math.log(np.mean(s ** 2))
    assert get_proxy("zen", bn_mode="eval")(net, batch, None) == pytest.approx(expected, rel=1e-10)
    assert get_proxy("zen-nobn", bn_mode="eval")(net, batch, None) == pytest.approx(math.log(delta), rel=1e-10)
    # with equal running variances the BN term cancels BN's scaling: the score does not depend on it
    scores = []
    for v in (4.0, 25.0):
        with torch.no_grad():
            net[1].running_var.fill_(v)
        scores.append(get_proxy("zen", bn_mode="eval")(net, batch, None))
    assert scores[0] == pytest.approx(scores[1], rel=1e-9)


def test_tenas_ntk_condition_number_by_hand():
    """f(x) = w . x: J_n = x_n, the NTK is X X^T."""
    torch.manual_seed(6)
    net = nn.Linear(3, 1, bias=False).double()
    x = torch.randn(3, 3, dtype=torch.float64)
    lam = np.linalg.eigvalsh(x.numpy() @ x.numpy().T)
    with Tenas().measure_session(net) as measure:
        m = measure(x)
    assert m.ntk_cond == pytest.approx(lam[-1] / lam[0], rel=1e-8)


def _bn_coupled_toy():
    """A conv-BN-ReLU-linear net in batch-statistics mode (BN couples the images), a batch of 6, its scored weights."""
    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 25, 3)).double().train()
    return net, torch.randn(6, 3, 5, 5, dtype=torch.float64), [net[0].weight, net[4].weight]


def test_tenas_ntk_batched_and_looped_backward_agree():
    """The vmapped and the one-by-one per-image backward give the same NTK, with BN coupling the batch."""
    net, x, weights = _bn_coupled_toy()
    looped = ntk_condition_number(net, x, weights, batched=False)
    assert ntk_condition_number(net, x, weights, batched=True) == pytest.approx(looped, rel=1e-9)
    rows = []  # brute force: per-image gradients through the whole batch's graph
    for i in range(6):
        net.zero_grad()
        net(x)[i].sum().backward()
        rows.append(torch.cat([w.grad.reshape(-1) for w in weights]))
    lam = torch.linalg.eigvalsh(torch.stack(rows) @ torch.stack(rows).T)
    assert looped == pytest.approx(float(lam[-1] / lam[0]), rel=1e-8)


def test_tenas_linear_regions_hand_counted():
    """One hidden ReLU layer on a 1-D input: units switch at t = 0.25, 0.5, 0.75 (and 1.5, outside [0, 1])."""
    net = nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [1.0], [-1.0], [2.0]]))
        net[0].bias.copy_(torch.tensor([-0.25, -0.5, 0.75, -3.0]))
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    with Tenas(lr_points=1001, lr_length=1.0).measure_session(net) as measure:
        assert measure(x).regions == 4
    with Tenas(lr_points=1001, lr_length=0.3).measure_session(net) as measure:
        assert measure(x).regions == 2  # only the switch at 0.25 lies in [0, 0.3]


def test_tenas_activation_patterns_hand_counted():
    """TE-NAS's count: a 1x1 conv to (x, -x), ReLU: x > 0 gives (1, 0), x < 0 (0, 1), x = 0 (0, 0). Batches
    [1, 2, -1] and [0, 3, -5] hold 3 distinct patterns (repeats across batches count once); a ReLU after the
    flattening (not on a feature map) is not counted, as TE-NAS hooks 4-D ReLU inputs only."""
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
    net = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(2, 2), nn.ReLU())
    batches = [torch.tensor(v).reshape(-1, 1, 1, 1) for v in ([1.0, 2.0, -1.0], [0.0, 3.0, -5.0])]
    assert activation_patterns(net, batches) == 3
    assert activation_patterns(net, batches[:1]) == 2
    assert activation_patterns(nn.Sequential(nn.Flatten(), nn.Linear(1, 1)), batches) == 1  # no ReLU: one region


def test_tenas_activation_patterns_equal_a_brute_force_count():
    """On a random conv net with BN in train mode (each batch on its own statistics), the count equals the number
    of distinct tuples of ReLU-input signs, recomputed by hand layer by layer per batch."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Conv2d(2, 1, 3), nn.ReLU(),
                        nn.Flatten()).train()
    batches = [torch.randn(50, 1, 3, 3), torch.randn(40, 1, 3, 3)]
    seen = set()
    with torch.no_grad():
        for x in batches:
            h1 = net[1](net[0](x))
            h2 = net[3](torch.relu(h1))
            for a, b in zip(h1.reshape(len(x), -1) > 0, h2.reshape(len(x), -1) > 0):
                seen.add(tuple(a.tolist()) + tuple(b.tolist()))
    assert activation_patterns(net, batches) == len(seen) > 10


def test_tenas_rank_combination_by_hand():
    ms = [TenasMeasure(1.0, 2), TenasMeasure(5.0, 2), TenasMeasure(3.0, 8)]
    # kappa ranks (ascending) 1, 3, 2; R ranks (descending, ties averaged) 2.5, 2.5, 1
    assert rank_combine(ms) == [-3.5, -5.5, -3.0]
    assert TenasMeasure(4.0, 8).score == pytest.approx(math.log(8) - math.log(4))


def test_te_nas_rank_combination_by_hand():
    """The TE-NAS code's ranking: changes 1 - ratio rounded to 3 decimals, dense ranks (kappa change descending,
    R change ascending). kappa ratios 0.1..0.4: changes 0.9..0.6, ranks 1..4; R ratios 1, 1, 1, 1.1: changes
    0, 0, 0, -0.1, dense ranks 2, 2, 2, 1 (average ranks would give 3, 3, 3, 1). Sums 3, 4, 5, 5."""
    assert te_nas_rank_combine([[0.1, 0.2, 0.3, 0.4]], [[1.0, 1.0, 1.0, 1.1]]) == [-3.0, -4.0, -5.0, -5.0]
    # rounding ties: kappa changes 0.1 and 0.0996 -> 0.1 share rank 2; R changes 0, -0.001, 0.002 -> 2, 1, 3
    assert te_nas_rank_combine([[0.5, 0.9, 0.9004]], [[1.0, 1.001, 0.998]]) == [-3.0, -3.0, -5.0]
    # two initialisations: mean changes (0.5 + 0.3) / 2 = 0.4 and 0.2; a NaN change ranks last
    assert te_nas_rank_combine([[0.5, 0.8, math.nan], [0.7, 0.8, 0.5]], [[1.0, 1.0, 1.0]] * 2) == [-2.0, -3.0, -4.0]


def test_params_and_flops_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(50, 3))
    x = torch.randn(4, 3, 5, 5)
    assert get_proxy("params")(net, x, None) == 2 * 3 * 9 + 2 + 50 * 3 + 3
    assert get_proxy("flops")(net, x, None) == 2 * (2 * 3 * 9 * 25) + 2 * (50 * 3)  # 2 FLOPs per multiply-add


def test_flops_count_no_pooling_by_hand():
    """AvgPool3x3 is a depthwise ones-kernel convolution inside, but pooling: the benchmarks' counters skip it."""
    from supernet.ops import AvgPool3x3
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), AvgPool3x3(), nn.MaxPool2d(3, 1, 1), nn.Flatten(),
                        nn.Linear(50, 3))
    x = torch.randn(4, 3, 5, 5)
    assert get_proxy("flops")(net, x, None) == 2 * (2 * 3 * 9 * 25) + 2 * (50 * 3)
    assert not net[1]._forward_hooks and not net[1]._forward_pre_hooks  # the counter's hooks are gone


def test_flops_of_an_all_pool_cell_equal_an_all_skip_cell():
    """NB201 cells of avg_pool_3x3 and of skip_connect do the same convolution work (the stem, the reductions)."""
    from train_final.metrics import count_flops
    space = get_space("nb201")
    cfg = NetConfig(channels=4, cells=1, num_classes=5)
    nets = {op: space.build_network(space.parse_genotype(f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|"), cfg)
            for op in ("avg_pool_3x3", "skip_connect", "nor_conv_1x1")}
    x = torch.randn(2, 3, 8, 8)
    flops = {op: get_proxy("flops")(net, x, None) for op, net in nets.items()}
    assert flops["avg_pool_3x3"] == flops["skip_connect"] < flops["nor_conv_1x1"]
    whole = {op: count_flops(net, 8, torch.device("cpu")) for op, net in nets.items()}
    assert whole["avg_pool_3x3"] == whole["skip_connect"] == flops["skip_connect"]


def test_params_counts_only_active_ops_of_a_supernet():
    space = get_space("nb201")
    state = space.new_state()
    net = space.build_supernet(state, NetConfig(channels=4, cells=1, num_classes=5))
    x = torch.randn(2, 3, 8, 8)
    full = get_proxy("params")(net, x, None)
    assert full == sum(p.numel() for p in net.parameters())  # A_0 runs every op
    conv = sum(p.numel() for cell in net.cells if hasattr(cell, "edges")
               for p in cell.edges["2_1"].ops["nor_conv_3x3"].parameters())
    with state.perturb("2<-1", "nor_conv_3x3"):
        assert get_proxy("params")(net, x, None) == full - conv


class ConstantNet(nn.Module):
    """Output independent of the input (the input is multiplied by zero before the first conv)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.relu(self.conv(x * 0.0))).flatten(1))


# documented results when the output does not depend on the input; every other proxy stays finite
CONSTANT_OUTPUT = {"nwot": -math.inf, "jacob_cov": -math.inf, "zen": -math.inf, "zen-nobn": -math.inf,
                   "tenas": -math.inf}
# documented results for a batch of identical images on an NB201 network (BN with batch statistics)
IDENTICAL_IMAGES = {"nwot": -math.inf, "tenas": -math.inf}


@pytest.mark.parametrize("name", PROXIES.names())
def test_output_independent_of_input(name):
    torch.manual_seed(7)
    net = ConstantNet()
    x, y = torch.randn(4, 3, 6, 6), torch.tensor([0, 1, 2, 3])
    value = get_proxy(name)(net, x, y)
    if name in CONSTANT_OUTPUT:
        assert value == CONSTANT_OUTPUT[name]
    else:
        assert math.isfinite(value)


@pytest.mark.parametrize("name", PROXIES.names())
def test_batch_of_identical_images(name):
    space = get_space("nb201")
    torch.manual_seed(8)
    net = space.build_network(space.parse_genotype(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"),
        NetConfig(channels=4, cells=1, num_classes=5))
    x = torch.randn(1, 3, 8, 8).repeat(4, 1, 1, 1)
    value = get_proxy(name)(net, x, torch.tensor([0, 1, 2, 3]))
    if name in IDENTICAL_IMAGES:
        assert value == IDENTICAL_IMAGES[name]
    elif name == "jacob_cov":  # identical Jacobian rows: correlation all ones, eigenvalues (4, 0, 0, 0)
        assert value == pytest.approx(-(math.log(4 + EPS_K) + 1 / (4 + EPS_K)) - 3 * (math.log(EPS_K) + 1 / EPS_K))
    else:
        assert not math.isnan(value)


def test_tenas_ntk_goes_row_by_row_where_vmap_has_no_kernel(monkeypatch):
    """CUDA's channels-last conv backward has no vmap rule ('NYI ... inside of vmap', seen on an H200):
    the batched NTK then falls back to the per-image backward and gives its value; other errors propagate."""
    net, x, weights = _bn_coupled_toy()
    looped = ntk_condition_number(net, x, weights, batched=False)
    grad = torch.autograd.grad

    def no_vmap(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("NYI: querying is_contiguous inside of vmap for memory_format other than "
                               "torch.contiguous_format")
        return grad(*args, **kwargs)
    monkeypatch.setattr(torch.autograd, "grad", no_vmap)
    assert ntk_condition_number(net, x, weights, batched=True) == looped

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")
    monkeypatch.setattr(torch.autograd, "grad", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        ntk_condition_number(net, x, weights, batched=True)


def test_tenas_ntk_sets_aside_the_null_vector_of_batch_statistics():
    """Conv -> BN on batch statistics -> global pooling -> linear (every DARTS supernet path ends so): each pooled
    feature has zero batch mean, so sum_n J_n = 0 and the NTK is singular for any weights. kappa is the condition
    number on the complement of the all-ones vector, computed here on an orthonormal basis Q of it: eig(Q^T T Q)."""
    torch.manual_seed(8)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4, affine=False), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3)).double().train()
    x = torch.randn(6, 3, 5, 5, dtype=torch.float64)
    weights = [net[0].weight, net[4].weight]
    rows = []
    for i in range(6):
        net.zero_grad()
        net(x)[i].sum().backward()
        rows.append(torch.cat([w.grad.reshape(-1) for w in weights]))
    jac = torch.stack(rows)
    assert float(jac.sum(0).norm()) < 1e-12 * float(jac.norm())  # the structural null vector
    ntk = (jac @ jac.T).numpy()
    q, _ = np.linalg.qr(np.concatenate([np.ones((6, 1)), np.random.default_rng(0).normal(size=(6, 5))], axis=1))
    lam = np.linalg.eigvalsh(q[:, 1:].T @ ntk @ q[:, 1:])
    assert ntk_condition_number(net, x, weights, batched=False) == pytest.approx(lam[-1] / lam[0], rel=1e-8)
    # with a ReLU after the BN the batch mean is no longer zero: the ordinary condition number, all eigenvalues
    relu_net = nn.Sequential(net[0], net[1], nn.ReLU(), *net[2:]).double().train()
    rows = []
    for i in range(6):
        relu_net.zero_grad()
        relu_net(x)[i].sum().backward()
        rows.append(torch.cat([w.grad.reshape(-1) for w in weights]))
    full = torch.linalg.eigvalsh(torch.stack(rows) @ torch.stack(rows).T)
    assert ntk_condition_number(relu_net, x, weights, batched=False) == pytest.approx(float(full[-1] / full[0]),
                                                                                     rel=1e-8)
