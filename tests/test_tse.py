"""TSE estimators (Ru et al. 2021): hand-worked values, the recorder, and ranking after a short training."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from scoring.tse import (TSE_ESTIMATORS, TSERecorder, estimate, rank, rank_correlation, train_and_record, tse,
                         tse_e, tse_ema)


def test_hand_worked_values():
    rec = TSERecorder()
    for epoch in ([3.0, 1.0], [2.0, 2.0, 2.0], [1.0, 0.0]):  # uneven batch counts: L_t averages what was seen
        rec.start_epoch()
        for loss in epoch:
            rec.record(loss)
    L = rec.epoch_losses()
    assert L == [2.0, 2.0, 0.5]
    assert tse(L) == 4.5
    assert tse_e(L) == 0.5 and tse_e(L, E=2) == 2.5 and tse_e(L, E=10) == 4.5
    assert tse_ema(L, gamma=0.5) == pytest.approx(0.25 * 2 + 0.5 * 2 + 1 * 0.5)
    assert tse_ema(L, gamma=1.0) == tse(L)
    assert tse_ema(L) == pytest.approx(0.999 ** 2 * 2 + 0.999 * 2 + 0.5)  # default gamma = 0.999
    assert rec.estimate("tse-ema", gamma=0.5) == estimate("tse-ema", L, gamma=0.5)
    assert TSE_ESTIMATORS.names() == ["tse", "tse-e", "tse-ema"]


@pytest.mark.parametrize("call", [lambda: tse([]), lambda: tse_e([1.0], E=0), lambda: tse_ema([1.0], gamma=0.0),
                                  lambda: estimate("nope", [1.0])])
def test_bad_input_is_refused(call):
    with pytest.raises((ValueError, KeyError)):
        call()


def test_rank_puts_lower_first_and_nan_last():
    assert rank({"a": 2.0, "b": float("nan"), "c": 0.5, "d": 2.0}) == ["c", "a", "d", "b"]
    # signs flipped: the lowest TSE goes with the highest accuracy
    assert rank_correlation({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 90.0, "b": 80.0, "c": 70.0}) == pytest.approx(1.0)
    assert rank_correlation({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 70.0, "b": 80.0, "c": 90.0}) == pytest.approx(-1.0)


def _data(n: int = 128, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] - x[:, 2] > 0).long()


class Masked(nn.Module):
    """A linear classifier that sees only the first `k` inputs (k = 0: no information at all)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        mask = torch.zeros(6)
        mask[: self.k] = 1
        return self.fc(x * mask)


def test_recorded_losses_are_the_pre_update_training_losses():
    torch.manual_seed(0)
    net = Masked(6)
    ref = copy.deepcopy(net)
    x, y = _data()
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    rec = train_and_record(net, lambda t: batches, 2, torch.optim.SGD(net.parameters(), lr=0.5))
    opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    expected = []
    for _ in range(2):  # by hand
        for xb, yb in batches:
            with torch.no_grad():
                expected.append(float(F.cross_entropy(ref(xb), yb)))
            opt.zero_grad()
            F.cross_entropy(ref(xb), yb).backward()
            opt.step()
    got = [l for epoch in rec.minibatch_losses for l in epoch]
    assert got == pytest.approx(expected, abs=1e-6)
    assert rec.epoch_losses() == pytest.approx([sum(expected[:4]) / 4, sum(expected[4:]) / 4])


def test_tse_ranks_networks_after_a_short_training():
    """Networks that see more of the label-relevant inputs train faster: every estimator orders them
    as their accuracy after the same training does (rank correlation 1)."""
    x, y = _data(256)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    recs, accs = {}, {}
    for k in (0, 1, 3):  # x_0 alone carries part of the label, x_0..x_2 all of it
        torch.manual_seed(1)
        net = Masked(k)
        recs[f"k{k}"] = train_and_record(net, lambda t: batches, 3, torch.optim.SGD(net.parameters(), lr=0.5))
        with torch.no_grad():
            accs[f"k{k}"] = float((net(x).argmax(1) == y).float().mean())
    assert accs["k3"] > accs["k1"] > accs["k0"]
    for name, opts in (("tse", {}), ("tse-e", {"E": 1}), ("tse-ema", {"gamma": 0.9})):
        est = {n: r.estimate(name, **opts) for n, r in recs.items()}
        assert rank(est) == ["k3", "k1", "k0"], (name, est)
        assert rank_correlation(est, accs) == pytest.approx(1.0)
    assert math.isfinite(recs["k0"].estimate("tse"))
