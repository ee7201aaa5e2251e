"""snip (Lee et al. 2019, as in Abdelfattah et al. 2021 eq. 1): S = sum_p |dL/dtheta_p * theta_p|.

Summed over the conv/linear weights. The published code differentiates a multiplicative mask c = 1
(W * c); since dL/dc = dL/dW * W that is the same number, computed here without touching the model.
L is the mean cross-entropy of one minibatch. Higher is better.
"""
from __future__ import annotations

import torch
from torch import nn

from .proxy import PROXIES
from .common import WeightGradientProxy, grads_or_zeros


@PROXIES.register("snip")
class Snip(WeightGradientProxy):
    """Connection sensitivity |g * W| summed over conv/linear weights."""

    def _score(self, model: nn.Module, weights: list[nn.Parameter], inputs: torch.Tensor,
               targets: torch.Tensor) -> float:
        grads = grads_or_zeros(self.loss(model, inputs, targets), weights)
        return float(sum(((g * w.detach()).double().abs().sum() for g, w in zip(grads, weights)),
                         torch.zeros((), dtype=torch.float64)))
