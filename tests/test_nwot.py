import math

import numpy as np
import pytest
import torch
from torch import nn

from scoring.proxies import get_proxy
from scoring.proxies.nwot import code_gram


class TwoBranch(nn.Module):
    """fc -> (ReLU a, ReLU b on the *same* tensor) -> sum -> fc2 -> ReLU c."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 5)
        self.bn = nn.BatchNorm1d(5)
        self.a, self.b, self.c = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.fc2 = nn.Linear(5, 4)

    def forward(self, x):
        h = self.bn(self.fc(x))
        z = self.fc2(self.a(h) + self.b(h))
        return self.c(z)


def brute_force(net: TwoBranch, x: torch.Tensor) -> float:
    """K_H[i,j] = N_A - Hamming(c_i, c_j) over every ReLU's binary input code (Mellor et al. eq. 1-2)."""
    with torch.no_grad():
        h = torch.nn.functional.batch_norm(net.fc(x), None, None, training=True, eps=net.bn.eps,
                                           weight=net.bn.weight, bias=net.bn.bias)
        z = net.fc2(torch.relu(h) + torch.relu(h))
    codes = np.concatenate([(h > 0).numpy(), (h > 0).numpy(), (z > 0).numpy()], axis=1).astype(int)
    n = codes.shape[1]
    b = len(codes)
    k = np.array([[n - np.sum(codes[i] != codes[j]) for j in range(b)] for i in range(b)], dtype=float)
    sign, logdet = np.linalg.slogdet(k)
    return -math.inf if sign == 0 else float(logdet)


def test_nwot_equals_brute_force_hamming_kernel():
    torch.manual_seed(0)
    net = TwoBranch()
    x = torch.randn(8, 6)
    assert get_proxy("nwot")(net, x, torch.zeros(8)) == pytest.approx(brute_force(net, x), abs=1e-9)


def test_code_gram_is_exact_hamming_kernel():
    torch.manual_seed(1)
    x = torch.randn(5, 3, 4, 4)
    c = (x.reshape(5, -1) > 0).double()
    ref = c @ c.T + (1 - c) @ (1 - c).T
    assert torch.equal(code_gram(x), ref)


@pytest.mark.parametrize("shape", [(5, 1), (7, 2), (2, 3, 4, 4), (64, 16, 8, 8), (33, 1000), (1, 9)])
@pytest.mark.parametrize("groups", [1, "all"])
def test_code_gram_equals_the_hamming_kernel_in_one_chunk_and_in_many(shape, groups, monkeypatch):
    """The kernel is exact for one unit, channels-last codes and grouped batches, whether the units fit one
    float32 chunk or are summed over chunks of 3 columns (as a tensor of more than 2^23 units is)."""
    from scoring.proxies import nwot
    torch.manual_seed(2)
    x = torch.randn(*shape)
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    g = shape[0] if groups == "all" else 1
    c = (x.reshape(shape[0], -1) > 0).double().view(g, shape[0] // g, -1)
    ref = c @ c.transpose(1, 2) + (1 - c) @ (1 - c).transpose(1, 2)
    ref = ref[0] if g == 1 else ref
    assert torch.equal(code_gram(x, g), ref)
    monkeypatch.setattr(nwot, "_EXACT_COLUMNS", 3)
    assert torch.equal(code_gram(x, g), ref)


def test_identical_inputs_give_minus_inf():
    torch.manual_seed(0)
    net = TwoBranch()
    x = torch.randn(1, 6).repeat(4, 1)
    assert get_proxy("nwot", bn_mode="eval")(net, x, torch.zeros(4)) == -math.inf


@pytest.mark.parametrize("bn_mode", ["batch", "eval"])
def test_nwot_leaves_model_bit_identical(bn_mode):
    torch.manual_seed(0)
    net = TwoBranch()
    net.train()
    net.fc.weight.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    get_proxy("nwot", bn_mode=bn_mode)(net, torch.randn(8, 6), torch.zeros(8))
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert net.training and net.bn.training and net.bn.track_running_stats
    assert not net.fc.weight.requires_grad and net.fc2.weight.requires_grad
    assert not any(m._forward_pre_hooks for m in net.modules())


def test_bn_mode_changes_the_score():
    torch.manual_seed(0)
    net = TwoBranch()
    with torch.no_grad():
        net.fc.bias.fill_(3.0)  # without batch statistics almost every unit is on
    x = torch.randn(6, 6)
    batch = get_proxy("nwot", bn_mode="batch")(net, x, None)
    assert batch == pytest.approx(brute_force(net, x))
    assert batch != get_proxy("nwot", bn_mode="eval")(net, x, None)


def test_unknown_bn_mode_rejected():
    with pytest.raises(ValueError, match="BN mode"):
        get_proxy("nwot", bn_mode="train")
