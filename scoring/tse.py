"""Training-speed estimators (Ru et al. 2021, Section 2): rank networks by how fast they train.

With L_t the mean minibatch training loss of epoch t (t = 1..T):
  TSE     = sum_{t=1}^{T} L_t
  TSE-E   = sum_{t=T-E+1}^{T} L_t              (E = 1 by default: the last epoch)
  TSE-EMA = sum_{t=1}^{T} gamma^(T-t) L_t      (gamma = 0.999 by default, the paper's recommendation)
Lower is better. Each minibatch loss is the one of that step's training forward, before its update
(free to record; the paper leaves the choice open), and L_t averages over the batches actually seen.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from supernet.registry import Registry

Batch = tuple[torch.Tensor, torch.Tensor]
Estimator = Callable[..., float]

TSE_ESTIMATORS: Registry[Estimator] = Registry("TSE estimator")


def _check(epoch_losses: Sequence[float]) -> list[float]:
    losses = [float(x) for x in epoch_losses]
    if not losses:
        raise ValueError("a TSE estimator needs the training loss of at least one epoch")
    return losses


@TSE_ESTIMATORS.register("tse")
def tse(epoch_losses: Sequence[float]) -> float:
    """TSE: the sum of the epoch training losses L_1 + ... + L_T."""
    return float(sum(_check(epoch_losses)))


@TSE_ESTIMATORS.register("tse-e")
def tse_e(epoch_losses: Sequence[float], E: int = 1) -> float:
    """TSE-E: the sum over the last E epochs."""
    losses = _check(epoch_losses)
    if E < 1:
        raise ValueError(f"TSE-E needs E >= 1, got {E}")
    return float(sum(losses[-E:]))


@TSE_ESTIMATORS.register("tse-ema")
def tse_ema(epoch_losses: Sequence[float], gamma: float = 0.999) -> float:
    """TSE-EMA: sum_t gamma^(T - t) L_t, recent epochs weighted most."""
    losses = _check(epoch_losses)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"TSE-EMA needs 0 < gamma <= 1, got {gamma}")
    T = len(losses)
    return float(sum(gamma ** (T - t) * L for t, L in enumerate(losses, start=1)))


def estimate(name: str, epoch_losses: Sequence[float], **options: float) -> float:
    """The estimator registered as `name` ('tse', 'tse-e', 'tse-ema') on per-epoch losses."""
    return TSE_ESTIMATORS.create(name, epoch_losses=epoch_losses, **options)


class TSERecorder:
    """Collects minibatch training losses epoch by epoch; gives L_t and the estimators."""

    def __init__(self) -> None:
        self.minibatch_losses: list[list[float]] = []

    def start_epoch(self) -> None:
        self.minibatch_losses.append([])

    def record(self, loss: float) -> None:
        if not self.minibatch_losses:
            self.start_epoch()
        self.minibatch_losses[-1].append(float(loss))

    def epoch_losses(self) -> list[float]:
        """L_t for every epoch with at least one minibatch."""
        return [sum(e) / len(e) for e in self.minibatch_losses if e]

    def estimate(self, name: str, **options: float) -> float:
        return estimate(name, self.epoch_losses(), **options)


def train_and_record(model: nn.Module, epoch_batches: Callable[[int], Iterable[Batch]], epochs: int,
                     optimizer: torch.optim.Optimizer, grad_clip: float | None = None,
                     scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> TSERecorder:
    """Train a stand-alone network for `epochs` (batches of epoch t from `epoch_batches(t)`, cross-entropy)
    and record every minibatch training loss; the short training TSE ranks networks after."""
    rec = TSERecorder()
    model.train()
    for t in range(epochs):
        rec.start_epoch()
        for x, y in epoch_batches(t):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            rec.record(float(loss.detach()))
        if scheduler is not None:
            scheduler.step()
    return rec


def rank(estimates: Mapping[str, float]) -> list[str]:
    """Names from best (lowest estimate) to worst; NaN last, ties in the given order."""
    def key(k: str) -> tuple[bool, float]:
        v = estimates[k]
        return (True, 0.0) if math.isnan(v) else (False, v)

    return sorted(estimates, key=key)


def rank_correlation(estimates: Mapping[str, float], accuracies: Mapping[str, float]) -> float:
    """Spearman rho between -estimate and accuracy over the shared names (signs flipped as in the paper)."""
    names = [k for k in estimates if k in accuracies]
    if len(names) < 2:
        raise ValueError("rank correlation needs at least two networks with both an estimate and an accuracy")
    from scipy import stats  # scipy costs ~0.6 s to import: only when correlating

    rho = stats.spearmanr([-estimates[k] for k in names], [accuracies[k] for k in names]).statistic
    return float(rho)
