"""grad_norm (Abdelfattah et al. 2021, Sec. 3): S = sum over conv/linear layers l of ||dL/dW_l||_2.

The Frobenius norm is taken per layer and the norms are summed (not one global norm, not squared),
as in the zero-cost paper's code. L is the mean cross-entropy of one minibatch. Higher is better.
"""
from __future__ import annotations

import torch
from torch import nn

from .proxy import PROXIES
from .common import WeightGradientProxy, grads_or_zeros


@PROXIES.register("grad_norm")
class GradNorm(WeightGradientProxy):
    """Sum of per-layer gradient norms of the conv/linear weights (one forward, one backward)."""

    def _score(self, model: nn.Module, weights: list[nn.Parameter], inputs: torch.Tensor,
               targets: torch.Tensor) -> float:
        grads = grads_or_zeros(self.loss(model, inputs, targets), weights)
        return float(sum((g.double().norm() for g in grads), torch.zeros((), dtype=torch.float64)))
